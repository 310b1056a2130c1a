import { z } from 'zod';
import {
  AssistantMessageSchema,
  FinishReasonSchema,
  SystemMessageSchema,
  ToolCallSchema,
  ToolDefinitionSchema,
  ToolMessageSchema,
  UserMessageSchema,
} from '../../shared/contracts/chat.ts';

/**
 * The OpenAI-compatible surface (`POST /v1/chat/completions`, `GET /v1/models`): the request fields
 * the official clients send, and the response, chunk and list shapes they parse.
 */

/** How the model may use the tools: `auto`, `none`, `required`, or one named function. */
export const ToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.strictObject({
    type: z.literal('function'),
    function: z.strictObject({ name: z.string().min(1).max(128) }),
  }),
]);

/** A validated tool choice. */
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/**
 * Structured output: free text, any JSON object, or JSON matching a JSON Schema. The schema's size
 * and depth are bounded when the request is checked (`invocation/response-format.ts`).
 */
export const ResponseFormatSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({
      type: z.literal('json_schema'),
      json_schema: z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
        description: z.string().max(4096).optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      }),
    }),
  ])
  .meta({ id: 'ResponseFormat' });

/** A web citation OpenAI attaches to an answer; clients echo it back with the message. */
const UrlCitationSchema = z.strictObject({
  type: z.literal('url_citation'),
  url_citation: z.strictObject({
    start_index: z.number().int().nonnegative(),
    end_index: z.number().int().nonnegative(),
    url: z.string().max(8192),
    title: z.string().max(4096),
  }),
});

/**
 * An assistant message as a request carries it: `content` may be null or absent when the message
 * holds tool calls, and the fields of a response message that clients echo back verbatim
 * (`refusal`, `annotations`, `audio` and `function_call` as null) are accepted and dropped — they
 * are the model's own output, not instructions to it.
 */
export const AssistantRequestMessageSchema = z
  .strictObject({
    role: z.literal('assistant'),
    content: z.string().nullable().optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
    annotations: z.array(UrlCitationSchema).max(1024).nullable().optional(),
    audio: z.null('audio output is not supported').optional(),
    function_call: z.null('function_call is deprecated and not supported; use tool_calls').optional(),
  })
  .meta({ id: 'AssistantRequestMessage' });

/** A message of a chat completion request. */
export const ChatRequestMessageSchema = z
  .discriminatedUnion('role', [
    SystemMessageSchema.extend({ role: z.literal('system') }),
    SystemMessageSchema.extend({ role: z.literal('developer') }),
    UserMessageSchema,
    AssistantRequestMessageSchema,
    ToolMessageSchema,
  ])
  .meta({ id: 'ChatRequestMessage' });

/** A validated request message. */
export type ChatRequestMessage = z.infer<typeof ChatRequestMessageSchema>;

/**
 * A chat completion request. `seed`, `user`, `parallel_tool_calls`, `metadata` and `store` are
 * forwarded to OpenAI-compatible backends and ignored by the others (Bedrock Converse has no such
 * parameters); `frequency_penalty` and `presence_penalty` are accepted for client compatibility but
 * not forwarded. Fields outside this list are rejected by name.
 */
export const ChatCompletionRequestSchema = z
  .strictObject({
    model: z.string().min(1).max(256),
    messages: z.array(ChatRequestMessageSchema).min(1).max(500),
    tools: z.array(ToolDefinitionSchema).max(128).optional(),
    tool_choice: ToolChoiceSchema.optional(),
    max_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
    max_completion_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    stop: z
      .union([z.string(), z.array(z.string()).max(4)])
      .nullable()
      .optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z
      .strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() })
      .nullable()
      .optional(),
    n: z.literal(1, 'only n = 1 is supported').nullable().optional(),
    user: z.string().max(256).optional(),
    metadata: z
      .record(z.string().max(64), z.string().max(512))
      .refine((value) => Object.keys(value).length <= 16, 'metadata holds at most 16 pairs')
      .nullable()
      .optional(),
    store: z.boolean().nullable().optional(),
    response_format: ResponseFormatSchema.nullable().optional(),
    seed: z.number().int().nullable().optional(),
    parallel_tool_calls: z.boolean().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    logprobs: z.literal(false, 'logprobs are not supported').nullable().optional(),
  })
  .meta({ id: 'ChatCompletionRequest' });

/** A validated chat completion request. */
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

/** Token usage of a completion, as OpenAI reports it. */
export const CompletionUsageSchema = z
  .strictObject({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
  })
  .meta({ id: 'CompletionUsage' });

/** A whole chat completion (`stream` off). */
export const ChatCompletionSchema = z
  .strictObject({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.strictObject({
        index: z.number().int().nonnegative(),
        message: AssistantMessageSchema,
        finish_reason: FinishReasonSchema,
        logprobs: z.null(),
      }),
    ),
    usage: CompletionUsageSchema,
    system_fingerprint: z.string().nullable(),
  })
  .meta({ id: 'ChatCompletion' });

/** A chat completion as the gateway answers it. */
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

/** A piece of a streamed tool call: its id and name come first, then pieces of its arguments. */
export const ToolCallDeltaSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  id: z.string().optional(),
  type: z.literal('function').optional(),
  function: z.strictObject({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});

/** One SSE chunk of a streamed completion; the last one before `[DONE]` carries the usage. */
export const ChatCompletionChunkSchema = z
  .strictObject({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.strictObject({
        index: z.number().int().nonnegative(),
        delta: z.strictObject({
          role: z.literal('assistant').optional(),
          content: z.string().nullable().optional(),
          tool_calls: z.array(ToolCallDeltaSchema).optional(),
        }),
        finish_reason: FinishReasonSchema.nullable(),
        logprobs: z.null(),
      }),
    ),
    usage: CompletionUsageSchema.nullable(),
    system_fingerprint: z.string().nullable(),
  })
  .meta({ id: 'ChatCompletionChunk' });

/** A streamed chunk as the gateway sends it. */
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;

/** A model or tier in OpenAI's model shape. */
export const ModelObjectSchema = z
  .strictObject({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    owned_by: z.string(),
    agentos: z
      .strictObject({
        kind: z.enum(['chat', 'embedding', 'tier']),
        tools: z.boolean().optional(),
        vision: z.boolean().optional(),
        dimensions: z.number().int().positive().optional(),
      })
      .optional()
      .describe(
        'AgentOS’s addition (OpenAI clients ignore it): whether the ref is a chat model (served by chat ' +
          'completions and responses), an embedding model (served by embeddings, with its native vector ' +
          'length) or a tier, and what a chat model accepts.',
      ),
  })
  .meta({ id: 'Model' });

/** A model as `GET /v1/models` lists it. */
export type ModelObject = z.infer<typeof ModelObjectSchema>;

/** `GET /v1/models`: the models and tiers a tenant may call. */
export const ModelListSchema = z
  .strictObject({ object: z.literal('list'), data: z.array(ModelObjectSchema) })
  .meta({ id: 'ModelList' });

/** The model list as the gateway answers it. */
export type ModelList = z.infer<typeof ModelListSchema>;
