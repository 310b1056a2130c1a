import type {
  ContentBlock,
  ConverseStreamCommandInput,
  ImageFormat,
  Message,
  SystemContentBlock,
  Tool,
  ToolChoice,
  ToolConfiguration,
  ToolUseBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { contentText } from '../../shared/contracts/chat.ts';
import type { AssistantMessage, ChatMessage, FinishReason, ToolCall } from '../../shared/contracts/chat.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ProviderRequest, ProviderResult } from '../ports/model-provider-port.ts';

/**
 * Translation between the OpenAI chat shape and Bedrock's Converse API, in both directions. Converse
 * and ConverseStream take the same input.
 */

/** A JSON document as the SDK types tool inputs and schemas. */
type BedrockDocument = NonNullable<ToolUseBlock['input']>;

/** The Converse input for a request, without the model id. */
export type ConverseInput = Omit<ConverseStreamCommandInput, 'modelId'>;

/**
 * Maps a request to Converse:
 * - system and developer messages become `system` blocks, wherever they appear;
 * - user and assistant text become text blocks (empty text is dropped: Converse rejects blank blocks);
 * - `data:` URL image parts become image blocks (`https:` ones are refused: nothing is fetched);
 * - assistant tool calls become `toolUse` blocks with their arguments parsed to JSON;
 * - tool messages become `toolResult` blocks in a user message;
 * - adjacent messages of the same role merge into one, since Converse requires alternating roles
 *   (so consecutive tool results share one user message);
 * - tools become `toolConfig.tools[].toolSpec`, `tool_choice` becomes `toolChoice` (`required` → any);
 * - a JSON `response_format` becomes one more tool, forced (see {@link structuredAnswerTool});
 *   Converse has no `none`: tools are then left out, unless the conversation already holds tool
 *   blocks, which Converse only accepts alongside a tool configuration.
 *
 * @throws ProviderError `invalid_request` when a tool call's arguments are not a JSON object.
 */
export function converseInput(request: ProviderRequest): ConverseInput {
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];
  const append = (role: 'user' | 'assistant', blocks: ContentBlock[]): void => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content = [...(last.content ?? []), ...blocks];
    else messages.push({ role, content: blocks });
  };
  for (const message of request.messages) {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = contentText(message.content);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        append('user', textBlocks(message.content));
        break;
      case 'assistant':
        append('assistant', [
          ...textBlocks(message.content),
          ...(message.tool_calls ?? []).map(toolUseBlock),
        ]);
        break;
      case 'tool':
        append('user', [
          {
            toolResult: {
              toolUseId: message.tool_call_id,
              content: [{ text: contentText(message.content) }],
            },
          },
        ]);
        break;
    }
  }
  const toolConfig = toolConfiguration(request, messages);
  return {
    messages,
    ...(system.length > 0 ? { system } : {}),
    inferenceConfig: {
      maxTokens: request.max_tokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.top_p !== undefined ? { topP: request.top_p } : {}),
      ...(request.stop !== undefined && request.stop.length > 0 ? { stopSequences: request.stop } : {}),
    },
    ...(toolConfig !== undefined ? { toolConfig } : {}),
  };
}

function textBlocks(content: ChatMessage['content']): ContentBlock[] {
  if (content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  return content.flatMap((part): ContentBlock[] => {
    if (part.type === 'image_url') return [imageBlock(part.image_url.url)];
    return part.text === '' ? [] : [{ text: part.text }];
  });
}

const imageFormats: Record<string, ImageFormat> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/**
 * A Converse image block from a `data:` URL. Converse takes image bytes only, and the gateway never
 * fetches a URL on a caller's behalf, so `https:` images are refused here.
 *
 * @throws ProviderError `invalid_request` for an `https:` URL or an image type Converse does not take.
 */
function imageBlock(url: string): ContentBlock {
  const match = /^data:(image\/[a-z0-9.+-]+);base64,(.*)$/is.exec(url);
  if (match === null) {
    throw new ProviderError(
      'invalid_request',
      'bedrock takes images as base64 data: URLs only; https: image URLs are not fetched',
      { status: 400 },
    );
  }
  const format = imageFormats[match[1]!.toLowerCase()];
  if (format === undefined) {
    throw new ProviderError(
      'invalid_request',
      `bedrock does not take ${match[1]} images (png, jpeg, gif, webp)`,
      { status: 400 },
    );
  }
  return { image: { format, source: { bytes: Buffer.from(match[2]!, 'base64') } } };
}

function toolUseBlock(call: ToolCall): ContentBlock {
  let input: unknown;
  try {
    input = call.function.arguments.trim() === '' ? {} : JSON.parse(call.function.arguments);
  } catch (error) {
    throw new ProviderError('invalid_request', `tool call ${call.id} has arguments that are not valid JSON`, {
      status: 400,
      cause: error,
    });
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ProviderError(
      'invalid_request',
      `tool call ${call.id} has arguments that are not a JSON object`,
      {
        status: 400,
      },
    );
  }
  return { toolUse: { toolUseId: call.id, name: call.function.name, input: input as BedrockDocument } };
}

/**
 * The name of the tool through which Bedrock answers a request for structured output: Converse has
 * no `response_format`, so the answer is a forced call of a tool whose input schema is the
 * requested schema (`json_object`: any object), mapped back to message content as JSON text.
 * Undefined when the request asks for free text.
 */
export function structuredAnswerTool(request: ProviderRequest): string | undefined {
  const format = request.response_format;
  if (format === undefined || format.type === 'text') return undefined;
  return format.type === 'json_schema' ? format.json_schema.name : 'json_answer';
}

function answerToolSpec(request: ProviderRequest, name: string): Tool {
  const format = request.response_format;
  const schema =
    format?.type === 'json_schema' && format.json_schema.schema !== undefined
      ? format.json_schema.schema
      : { type: 'object' };
  const description =
    format?.type === 'json_schema' && format.json_schema.description !== undefined
      ? format.json_schema.description
      : 'Give the answer as the input of this tool.';
  return { toolSpec: { name, description, inputSchema: { json: schema as BedrockDocument } } };
}

function toolConfiguration(request: ProviderRequest, messages: Message[]): ToolConfiguration | undefined {
  const definitions = request.tools ?? [];
  const tools: Tool[] = definitions.map(({ function: fn }) => ({
    toolSpec: {
      name: fn.name,
      ...(fn.description !== undefined ? { description: fn.description } : {}),
      inputSchema: { json: (fn.parameters ?? { type: 'object', properties: {} }) as BedrockDocument },
    },
  }));
  const answerTool = structuredAnswerTool(request);
  if (answerTool !== undefined) {
    if (definitions.some(({ function: fn }) => fn.name === answerTool)) {
      throw new ProviderError(
        'invalid_request',
        `response_format name '${answerTool}' is also the name of a tool; Bedrock needs them apart`,
        { status: 400 },
      );
    }
    // The answer is forced, so the caller's tools stay declared (the conversation may hold their
    // calls) but are not called in this turn.
    return {
      tools: [...tools, answerToolSpec(request, answerTool)],
      toolChoice: { tool: { name: answerTool } },
    };
  }
  if (definitions.length === 0) return undefined;
  const choice = request.tool_choice;
  if (choice === 'none') {
    const holdsToolBlocks = messages.some((message) =>
      (message.content ?? []).some((block) => block.toolUse !== undefined || block.toolResult !== undefined),
    );
    return holdsToolBlocks ? { tools } : undefined;
  }
  const toolChoice: ToolChoice | undefined =
    choice === undefined
      ? undefined
      : choice === 'auto'
        ? { auto: {} }
        : choice === 'required'
          ? { any: {} }
          : { tool: { name: choice.function.name } };
  return { tools, ...(toolChoice !== undefined ? { toolChoice } : {}) };
}

/** The finish reason of a Converse `stopReason`. */
export function finishReasonOf(stopReason: string): FinishReason {
  switch (stopReason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

const UsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});

const ContentBlockSchema = z.object({
  text: z.string().optional(),
  toolUse: z.object({ toolUseId: z.string().min(1), name: z.string().min(1), input: z.unknown() }).optional(),
});

/** What the SDK deserialized from a Converse response, checked before use. */
const ConverseOutputSchema = z.object({
  output: z.object({ message: z.object({ content: z.array(ContentBlockSchema) }) }),
  stopReason: z.string(),
  usage: UsageSchema,
});

/**
 * The completion of a Converse response: text blocks joined, `toolUse` blocks as tool calls with
 * JSON-stringified input, usage from `inputTokens`/`outputTokens`. Other block kinds (reasoning,
 * citations) are not part of the chat shape and are left out.
 *
 * @throws ProviderError `server_error` when the response lacks a message, a stop reason or usage.
 */
export function converseResult(output: unknown, answerTool?: string): ProviderResult {
  const parsed = ConverseOutputSchema.safeParse(output);
  if (!parsed.success) {
    throw new ProviderError(
      'server_error',
      'bedrock: the Converse response lacks a message, stop reason or usage',
      {
        cause: parsed.error,
      },
    );
  }
  const { content } = parsed.data.output.message;
  const answer = content.find((block) => answerTool !== undefined && block.toolUse?.name === answerTool);
  if (answer?.toolUse !== undefined) {
    // Structured output: the forced tool call's input is the answer (see structuredAnswerTool).
    return {
      message: { role: 'assistant', content: JSON.stringify(answer.toolUse.input ?? {}) },
      finish_reason: parsed.data.stopReason === 'tool_use' ? 'stop' : finishReasonOf(parsed.data.stopReason),
      usage: {
        prompt_tokens: parsed.data.usage.inputTokens,
        completion_tokens: parsed.data.usage.outputTokens,
      },
    };
  }
  const text = content.flatMap((block) => (block.text !== undefined ? [block.text] : [])).join('');
  const toolCalls: ToolCall[] = content.flatMap((block) =>
    block.toolUse === undefined
      ? []
      : [
          {
            id: block.toolUse.toolUseId,
            type: 'function' as const,
            function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) },
          },
        ],
  );
  const message: AssistantMessage = {
    role: 'assistant',
    content: text === '' && toolCalls.length > 0 ? null : text,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  return {
    message,
    finish_reason: finishReasonOf(parsed.data.stopReason),
    usage: {
      prompt_tokens: parsed.data.usage.inputTokens,
      completion_tokens: parsed.data.usage.outputTokens,
    },
  };
}

/** One ConverseStream event as the SDK yields it, checked before use. */
export const ConverseStreamEventSchema = z.object({
  contentBlockStart: z
    .object({
      contentBlockIndex: z.number().int().nonnegative(),
      start: z
        .object({ toolUse: z.object({ toolUseId: z.string().min(1), name: z.string().min(1) }).optional() })
        .optional(),
    })
    .optional(),
  contentBlockDelta: z
    .object({
      contentBlockIndex: z.number().int().nonnegative(),
      delta: z.object({ text: z.string().optional(), toolUse: z.object({ input: z.string() }).optional() }),
    })
    .optional(),
  contentBlockStop: z.object({ contentBlockIndex: z.number().int().nonnegative() }).optional(),
  messageStop: z.object({ stopReason: z.string() }).optional(),
  metadata: z.object({ usage: UsageSchema }).optional(),
});
