import { z } from 'zod';

/**
 * Chat messages and tools in the OpenAI chat-completions shape, the lingua franca between the
 * Orchestrator, the Model Policy and every provider adapter.
 */

export const TextPartSchema = z.strictObject({ type: z.literal('text'), text: z.string() });

export const SystemMessageSchema = z.strictObject({
  role: z.enum(['system', 'developer']),
  content: z.union([z.string(), z.array(TextPartSchema)]),
  name: z.string().optional(),
});

/**
 * An image in a user message: a `data:` URL (base64) or an `https:` URL. Only models whose catalog
 * entry has `vision` take it; backends that cannot fetch URLs get `data:` URLs only.
 */
export const ImagePartSchema = z
  .strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({
      url: z
        .string()
        .max(20_000_000)
        .regex(/^(https:\/\/|data:image\/[a-z0-9.+-]+;base64,)/i, 'an https: URL or a base64 data:image URL'),
      detail: z.enum(['auto', 'low', 'high']).optional(),
    }),
  })
  .meta({ id: 'ImagePart' });

export type ImagePart = z.infer<typeof ImagePartSchema>;

export const UserMessageSchema = z.strictObject({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [TextPartSchema, ImagePartSchema]))]),
  name: z.string().optional(),
});

export const ToolCallSchema = z
  .strictObject({
    id: z.string().min(1).max(128),
    type: z.literal('function'),
    function: z.strictObject({ name: z.string().min(1).max(128), arguments: z.string() }),
  })
  .meta({ id: 'ToolCall' });

export type ToolCall = z.infer<typeof ToolCallSchema>;

export const AssistantMessageSchema = z
  .strictObject({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    tool_calls: z.array(ToolCallSchema).optional(),
    name: z.string().optional(),
    refusal: z.string().nullable().optional(),
  })
  .meta({ id: 'AssistantMessage' });

export type AssistantMessage = z.infer<typeof AssistantMessageSchema>;

export const ToolMessageSchema = z.strictObject({
  role: z.literal('tool'),
  tool_call_id: z.string().min(1),
  content: z.union([z.string(), z.array(TextPartSchema)]),
});

export const ChatMessageSchema = z
  .discriminatedUnion('role', [
    SystemMessageSchema.extend({ role: z.literal('system') }),
    SystemMessageSchema.extend({ role: z.literal('developer') }),
    UserMessageSchema,
    AssistantMessageSchema,
    ToolMessageSchema,
  ])
  .meta({ id: 'ChatMessage' });

export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ToolDefinitionSchema = z
  .strictObject({
    type: z.literal('function'),
    function: z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      description: z.string().max(4096).optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  })
  .meta({ id: 'ToolDefinition' });

export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;

export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

/** A content part of any message. */
export type ContentPart = z.infer<typeof TextPartSchema> | ImagePart;

/** Text of a message's content, whether a string or parts; image parts hold no text. */
export function contentText(content: string | null | readonly ContentPart[] | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string'
    ? content
    : content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/** The image parts of a message's content. */
export function imageParts(content: string | null | readonly ContentPart[] | undefined): ImagePart[] {
  if (content === null || content === undefined || typeof content === 'string') return [];
  return content.filter((part): part is ImagePart => part.type === 'image_url');
}
