import { z } from 'zod';

/**
 * What an OpenAI-compatible server (OpenAI, vLLM, Ollama) answers on `/chat/completions`, validated
 * before use. Objects are not strict: servers add fields of their own.
 */

const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
});

const ToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

/** A non-streamed `chat.completion`. */
export const ChatCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullish(),
          tool_calls: z.array(ToolCallSchema).nullish(),
          refusal: z.string().nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: UsageSchema.nullish(),
});

const ToolCallDeltaSchema = z.object({
  index: z.number().int().nonnegative().optional(),
  id: z.string().nullish(),
  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

/** One streamed `chat.completion.chunk`; with `include_usage` the last one has no choices and the usage. */
export const ChatCompletionChunkSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().nonnegative().optional(),
      delta: z
        .object({ content: z.string().nullish(), tool_calls: z.array(ToolCallDeltaSchema).nullish() })
        .nullish(),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: UsageSchema.nullish(),
});

/** An error object, as the body of an HTTP error or in a stream (vLLM sends these mid-stream). */
export const UpstreamErrorSchema = z.object({
  error: z.union([
    z.string(),
    z.object({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish() }),
  ]),
});

/** A `/embeddings` answer with float vectors (`encoding_format: float`). */
export const EmbeddingListSchema = z.object({
  data: z
    .array(
      z.object({
        index: z.number().int().nonnegative(),
        embedding: z.array(z.number()).min(1),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative() }).nullish(),
});
