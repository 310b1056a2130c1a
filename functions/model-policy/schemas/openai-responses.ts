import { z } from 'zod';
import { ImagePartSchema } from '../../shared/contracts/chat.ts';

/**
 * OpenAI's Responses API (`POST /v1/responses`) as the Model Policy serves it: stateless, a
 * translation over the chat completion path. The request fields the official clients send, and the
 * response and stream event shapes they parse. Nothing is stored: `store: true`,
 * `previous_response_id` and `item_reference` items are refused by name.
 */

const TextSchema = z.string().max(10_000_000);

/** Text in an input message. */
const InputTextSchema = z.strictObject({ type: z.literal('input_text'), text: TextSchema });

/** An image in an input message: an `https:` or base64 `data:image` URL (uploaded files are not kept). */
const InputImageSchema = z.strictObject({
  type: z.literal('input_image'),
  image_url: ImagePartSchema.shape.image_url.shape.url,
  detail: z.enum(['auto', 'low', 'high']).optional(),
  file_id: z.null('file_id is not supported: send the image as image_url').optional(),
});

/** Text of an earlier answer, as a client echoes an output message back. */
const OutputTextSchema = z.strictObject({
  type: z.literal('output_text'),
  text: TextSchema,
  annotations: z.array(z.unknown()).max(1024).optional(),
  logprobs: z.array(z.unknown()).max(100_000).optional(),
});

/** A refusal of an earlier answer, echoed back. */
const RefusalSchema = z.strictObject({ type: z.literal('refusal'), refusal: TextSchema });

const statusField = z.enum(['in_progress', 'completed', 'incomplete']).optional();

/**
 * A message item (`type: "message"` may be left out). User, system and developer messages hold
 * `input_text` (and for users `input_image`) parts; assistant messages echo `output_text` parts.
 */
export const ResponseInputMessageSchema = z
  .strictObject({
    type: z.literal('message').optional(),
    id: z.string().max(256).optional(),
    status: statusField,
    role: z.enum(['user', 'system', 'developer', 'assistant']),
    content: z.union([
      TextSchema,
      z
        .array(
          z.discriminatedUnion('type', [InputTextSchema, InputImageSchema, OutputTextSchema, RefusalSchema]),
        )
        .max(1024),
    ]),
    phase: z.string().max(64).nullable().optional(),
  })
  .meta({ id: 'ResponseInputMessage' });

/** A function call the model made earlier, echoed back with its `call_id`. */
export const ResponseFunctionCallSchema = z
  .strictObject({
    type: z.literal('function_call'),
    id: z.string().max(256).optional(),
    call_id: z.string().min(1).max(128),
    name: z.string().min(1).max(128),
    arguments: z.string(),
    status: statusField,
  })
  .meta({ id: 'ResponseFunctionCall' });

/** The caller's result of a function call, matched to it by `call_id`. */
const FunctionCallOutputSchema = z.strictObject({
  type: z.literal('function_call_output'),
  id: z.string().max(256).nullable().optional(),
  call_id: z.string().min(1).max(128),
  output: z.union([TextSchema, z.array(InputTextSchema).max(1024)]),
  status: statusField.nullable(),
});

/** A reasoning item of an earlier answer: accepted and dropped, as no backend here takes it back. */
const ReasoningItemSchema = z.strictObject({
  type: z.literal('reasoning'),
  id: z.string().max(256).optional(),
  summary: z.array(z.unknown()).max(1024).optional(),
  content: z.array(z.unknown()).max(1024).nullable().optional(),
  encrypted_content: z.string().nullable().optional(),
  status: statusField,
});

/** A reference to a stored item: refused when the request is translated, since nothing is stored. */
const ItemReferenceSchema = z.strictObject({
  type: z.literal('item_reference'),
  id: z.string().max(256),
});

/** One input item. */
export const ResponseInputItemSchema = z
  .union([
    ResponseInputMessageSchema,
    ResponseFunctionCallSchema,
    FunctionCallOutputSchema,
    ReasoningItemSchema,
    ItemReferenceSchema,
  ])
  .meta({ id: 'ResponseInputItem' });

/** A validated input item. */
export type ResponseInputItem = z.infer<typeof ResponseInputItemSchema>;

/** A function tool, flat as the Responses API declares it. */
export const ResponseFunctionToolSchema = z
  .strictObject({
    type: z.literal('function'),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    description: z.string().max(4096).nullable().optional(),
    parameters: z.record(z.string(), z.unknown()).nullable().optional(),
    strict: z.boolean().nullable().optional(),
  })
  .meta({ id: 'ResponseFunctionTool' });

/**
 * A tool: a function tool, or a built-in tool (`web_search`, `file_search`, …) that is named here only
 * so that it can be refused with a message naming it.
 */
const ResponseToolSchema = z.union([
  ResponseFunctionToolSchema,
  z.looseObject({
    type: z
      .string()
      .max(64)
      .refine((type) => type !== 'function'),
  }),
]);

/** A validated tool. */
export type ResponseTool = z.infer<typeof ResponseToolSchema>;

/** A validated function tool. */
export type ResponseFunctionTool = z.infer<typeof ResponseFunctionToolSchema>;

/** Whether a tool is a function tool (the schema admits any other type only to refuse it by name). */
export function isFunctionTool(tool: ResponseTool): tool is ResponseFunctionTool {
  return tool.type === 'function';
}

/** How the model may use the tools: `auto`, `none`, `required`, or one named function. */
export const ResponseToolChoiceSchema = z.union([
  z.enum(['auto', 'none', 'required']),
  z.strictObject({ type: z.literal('function'), name: z.string().min(1).max(128) }),
]);

/** The output format: free text, any JSON object, or JSON matching a JSON Schema. */
export const ResponseTextFormatSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({
      type: z.literal('json_schema'),
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      description: z.string().max(4096).nullable().optional(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().nullable().optional(),
    }),
  ])
  .meta({ id: 'ResponseTextFormat' });

/** A validated output format. */
export type ResponseTextFormat = z.infer<typeof ResponseTextFormatSchema>;

/**
 * A Responses API request. `metadata`, `user` and `parallel_tool_calls` are forwarded to
 * OpenAI-compatible backends as on the chat route; `include` and `text.verbosity` are accepted and
 * ignored (no backend here returns reasoning or takes a verbosity). Fields outside this list are
 * rejected by name.
 */
export const CreateResponseRequestSchema = z
  .strictObject({
    model: z.string().min(1).max(256),
    input: z.union([TextSchema, z.array(ResponseInputItemSchema).min(1).max(500)]),
    instructions: TextSchema.nullable().optional(),
    tools: z.array(ResponseToolSchema).max(128).optional(),
    tool_choice: ResponseToolChoiceSchema.optional(),
    text: z
      .strictObject({
        format: ResponseTextFormatSchema.nullable().optional(),
        verbosity: z.enum(['low', 'medium', 'high']).nullable().optional(),
      })
      .nullable()
      .optional(),
    max_output_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    metadata: z
      .record(z.string().max(64), z.string().max(512))
      .refine((value) => Object.keys(value).length <= 16, 'metadata holds at most 16 pairs')
      .nullable()
      .optional(),
    user: z.string().max(256).optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    store: z.boolean().nullable().optional(),
    previous_response_id: z.string().max(256).nullable().optional(),
    include: z.array(z.string().max(128)).max(32).nullable().optional(),
  })
  .meta({ id: 'CreateResponseRequest' });

/** A validated Responses API request. */
export type CreateResponseRequest = z.infer<typeof CreateResponseRequestSchema>;

/** Text of an answer. */
const OutputTextPartSchema = z.strictObject({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.never()),
  logprobs: z.array(z.never()),
});

/** A part of an output message: its text or its refusal. */
export const ResponseOutputPartSchema = z
  .discriminatedUnion('type', [
    OutputTextPartSchema,
    z.strictObject({ type: z.literal('refusal'), refusal: z.string() }),
  ])
  .meta({ id: 'ResponseOutputPart' });

/** A part of an output message as the gateway renders it. */
export type ResponseOutputPart = z.infer<typeof ResponseOutputPartSchema>;

const itemStatus = z.enum(['in_progress', 'completed', 'incomplete']);

/** An item of a response's output: the answer's message, or one function call. */
export const ResponseOutputItemSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('message'),
      id: z.string(),
      status: itemStatus,
      role: z.literal('assistant'),
      content: z.array(ResponseOutputPartSchema),
    }),
    z.strictObject({
      type: z.literal('function_call'),
      id: z.string(),
      status: itemStatus,
      call_id: z.string(),
      name: z.string(),
      arguments: z.string(),
    }),
  ])
  .meta({ id: 'ResponseOutputItem' });

/** An output item as the gateway renders it. */
export type ResponseOutputItem = z.infer<typeof ResponseOutputItemSchema>;

/** Token usage of a response, as OpenAI reports it. */
export const ResponseUsageSchema = z
  .strictObject({
    input_tokens: z.number().int().nonnegative(),
    input_tokens_details: z.strictObject({ cached_tokens: z.number().int().nonnegative() }),
    output_tokens: z.number().int().nonnegative(),
    output_tokens_details: z.strictObject({ reasoning_tokens: z.number().int().nonnegative() }),
    total_tokens: z.number().int().nonnegative(),
  })
  .meta({ id: 'ResponseUsage' });

/**
 * A response. The request's settings are echoed as OpenAI does; `store` is always false and
 * `previous_response_id` always null. `status` is `incomplete` when the answer was cut at
 * `max_output_tokens` (or filtered), with the reason in `incomplete_details`.
 */
export const ResponseObjectSchema = z
  .strictObject({
    id: z.string(),
    object: z.literal('response'),
    created_at: z.number().int(),
    status: z.enum(['completed', 'incomplete', 'in_progress', 'failed']),
    error: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z
      .strictObject({ reason: z.enum(['max_output_tokens', 'content_filter']) })
      .nullable(),
    instructions: z.string().nullable(),
    max_output_tokens: z.number().int().nullable(),
    model: z.string(),
    output: z.array(ResponseOutputItemSchema),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.null(),
    reasoning: z.strictObject({ effort: z.null(), summary: z.null() }),
    store: z.literal(false),
    temperature: z.number().nullable(),
    text: z.strictObject({ format: ResponseTextFormatSchema }),
    tool_choice: ResponseToolChoiceSchema,
    tools: z.array(ResponseFunctionToolSchema),
    top_p: z.number().nullable(),
    truncation: z.literal('disabled'),
    usage: ResponseUsageSchema.nullable(),
    user: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Response' });

/** A response as the gateway answers it. */
export type ResponseObject = z.infer<typeof ResponseObjectSchema>;

const sequence = { sequence_number: z.number().int().nonnegative() };

/**
 * One event of a streamed response (`event:` names its `type`), each with a `sequence_number` one
 * higher than the last: `response.created`, `response.in_progress`, then per output item
 * `response.output_item.added`, its text, refusal or arguments deltas and `done`s and
 * `response.output_item.done`, then `response.completed` or `response.incomplete` — or, on a failure
 * after the stream started, `response.failed` followed by one `error` event.
 */
export const ResponseStreamEventSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.enum([
        'response.created',
        'response.in_progress',
        'response.completed',
        'response.incomplete',
        'response.failed',
      ]),
      response: ResponseObjectSchema,
      ...sequence,
    }),
    z.strictObject({
      type: z.enum(['response.output_item.added', 'response.output_item.done']),
      output_index: z.number().int().nonnegative(),
      item: ResponseOutputItemSchema,
      ...sequence,
    }),
    z.strictObject({
      type: z.enum(['response.content_part.added', 'response.content_part.done']),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      content_index: z.number().int().nonnegative(),
      part: ResponseOutputPartSchema,
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.output_text.delta'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      content_index: z.number().int().nonnegative(),
      delta: z.string(),
      logprobs: z.array(z.never()),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.output_text.done'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      content_index: z.number().int().nonnegative(),
      text: z.string(),
      logprobs: z.array(z.never()),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.refusal.delta'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      content_index: z.number().int().nonnegative(),
      delta: z.string(),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.refusal.done'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      content_index: z.number().int().nonnegative(),
      refusal: z.string(),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.function_call_arguments.delta'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      delta: z.string(),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('response.function_call_arguments.done'),
      item_id: z.string(),
      output_index: z.number().int().nonnegative(),
      name: z.string(),
      arguments: z.string(),
      ...sequence,
    }),
    z.strictObject({
      type: z.literal('error'),
      code: z.string(),
      message: z.string(),
      param: z.null(),
      ...sequence,
    }),
  ])
  .meta({ id: 'ResponseStreamEvent' });

/** A stream event as the gateway sends it. */
export type ResponseStreamEvent = z.infer<typeof ResponseStreamEventSchema>;
