import type { ChatMessage, ContentPart, ToolCall, ToolDefinition } from '../../shared/contracts/chat.ts';
import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { ResponseFormat } from '../ports/model-provider-port.ts';
import type { ToolChoice } from '../schemas/openai-chat.ts';
import { isFunctionTool } from '../schemas/openai-responses.ts';
import type {
  CreateResponseRequest,
  ResponseInputItem,
  ResponseTextFormat,
  ResponseTool,
} from '../schemas/openai-responses.ts';

/**
 * The Responses API request as a chat completion request (HLD §2.1 Model API): the Model Policy
 * serves `POST /v1/responses` over the same call path as `POST /v1/chat/completions`, so policy,
 * budgets and metering apply alike. Nothing is stored, so what needs stored state is refused here.
 */

/** The chat fields a Responses API request becomes. */
export type TranslatedRequest = {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  responseFormat?: ResponseFormat;
};

function refuse(field: string, message: string): never {
  throw new InvalidRequestError(message, [{ field, message }]);
}

/** Refuses what would need a stored response: `store: true` and `previous_response_id`. */
function checkStateless(body: CreateResponseRequest): void {
  if (body.store === true) {
    refuse(
      'store',
      'store: true is not supported: responses are not stored; send store: false or leave it out',
    );
  }
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
    refuse(
      'previous_response_id',
      'previous_response_id is not supported: responses are not stored; send the earlier items in input',
    );
  }
}

function toolsOf(tools: readonly ResponseTool[] | undefined): ToolDefinition[] | undefined {
  if (tools === undefined) return undefined;
  return tools.map((tool, index) => {
    if (!isFunctionTool(tool)) {
      return refuse(
        `tools[${index}].type`,
        `built-in tool '${tool.type}' is not supported: only function tools are`,
      );
    }
    return {
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === undefined || tool.description === null
          ? {}
          : { description: tool.description }),
        ...(tool.parameters === undefined || tool.parameters === null ? {} : { parameters: tool.parameters }),
        ...(tool.strict === undefined ? {} : { strict: tool.strict }),
      },
    };
  });
}

function toolChoiceOf(choice: CreateResponseRequest['tool_choice']): ToolChoice | undefined {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'function', function: { name: choice.name } };
}

/** The chat `response_format` of a `text.format`, which the chat path checks and enforces. */
export function responseFormatOf(format: ResponseTextFormat | null | undefined): ResponseFormat | undefined {
  if (format === undefined || format === null) return undefined;
  if (format.type !== 'json_schema') return format;
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name,
      schema: format.schema,
      ...(format.description === undefined || format.description === null
        ? {}
        : { description: format.description }),
      ...(format.strict === undefined ? {} : { strict: format.strict }),
    },
  };
}

type MessageItem = Extract<ResponseInputItem, { role: string }>;

function textOf(content: MessageItem['content'], index: number, allowed: readonly string[]): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, partIndex) => {
      if (!allowed.includes(part.type)) {
        refuse(`input[${index}].content[${partIndex}].type`, `'${part.type}' is not allowed in this message`);
      }
      if (part.type === 'refusal') return '';
      return 'text' in part ? part.text : '';
    })
    .join('');
}

function userContentOf(content: MessageItem['content'], index: number): string | ContentPart[] {
  if (typeof content === 'string') return content;
  return content.map((part, partIndex): ContentPart => {
    if (part.type === 'input_text') return { type: 'text', text: part.text };
    if (part.type === 'input_image') {
      return {
        type: 'image_url',
        image_url: { url: part.image_url, ...(part.detail === undefined ? {} : { detail: part.detail }) },
      };
    }
    return refuse(
      `input[${index}].content[${partIndex}].type`,
      `'${part.type}' is not allowed in a user message`,
    );
  });
}

function messageOf(item: MessageItem, index: number): ChatMessage {
  if (item.role === 'user') return { role: 'user', content: userContentOf(item.content, index) };
  if (item.role === 'assistant') {
    const refusal =
      typeof item.content === 'string'
        ? undefined
        : item.content.find((part) => part.type === 'refusal')?.refusal;
    return {
      role: 'assistant',
      content: textOf(item.content, index, ['output_text', 'input_text', 'refusal']),
      ...(refusal === undefined ? {} : { refusal }),
    };
  }
  return { role: item.role, content: textOf(item.content, index, ['input_text']) };
}

/** The chat messages of `instructions` and `input`: function calls join the assistant turn they follow. */
function messagesOf(body: CreateResponseRequest): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (body.instructions !== undefined && body.instructions !== null && body.instructions !== '') {
    messages.push({ role: 'system', content: body.instructions });
  }
  if (typeof body.input === 'string') {
    messages.push({ role: 'user', content: body.input });
    return messages;
  }
  for (const [index, item] of body.input.entries()) {
    if (item.type === 'reasoning') continue;
    if (item.type === 'item_reference') {
      refuse(
        `input[${index}]`,
        'item_reference is not supported: responses are not stored; send the items themselves ' +
          '(store: false in the client, e.g. providerOptions.openai.store = false in the Vercel AI SDK)',
      );
    }
    if (item.type === 'function_call') {
      const call: ToolCall = {
        id: item.call_id,
        type: 'function',
        function: { name: item.name, arguments: item.arguments },
      };
      const last = messages.at(-1);
      if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      continue;
    }
    if (item.type === 'function_call_output') {
      const content =
        typeof item.output === 'string' ? item.output : item.output.map((part) => part.text).join('');
      messages.push({ role: 'tool', tool_call_id: item.call_id, content });
      continue;
    }
    messages.push(messageOf(item, index));
  }
  if (messages.length === 0) refuse('input', 'input holds no message');
  return messages;
}

/**
 * Translates a Responses API request into the chat fields the gateway takes.
 *
 * @throws InvalidRequestError naming the field for what a stateless gateway cannot serve
 * (`store: true`, `previous_response_id`, `item_reference`), built-in tools, and parts in the wrong message.
 */
export function translateResponsesRequest(body: CreateResponseRequest): TranslatedRequest {
  checkStateless(body);
  const tools = toolsOf(body.tools);
  const toolChoice = toolChoiceOf(body.tool_choice);
  const responseFormat = responseFormatOf(body.text?.format);
  return {
    messages: messagesOf(body),
    ...(tools === undefined ? {} : { tools }),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(responseFormat === undefined ? {} : { responseFormat }),
  };
}
