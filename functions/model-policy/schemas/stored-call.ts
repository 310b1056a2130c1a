import type { AssistantMessage, FinishReason } from '../../shared/contracts/chat.ts';
import type { ModelRoute, PolicyOutcome } from '../../shared/contracts/model-invocation.ts';

/**
 * A completed model call as the ledger keeps it for replays of the same `request_id`; both the native
 * and the OpenAI-compatible endpoints render their responses from it.
 */
export type StoredCall = {
  request_id: string;
  /** The OpenAI completion id (`chatcmpl-…`, `embd-…` for embeddings), stable across replays. */
  completion_id: string;
  /** Epoch seconds of the original call. */
  created: number;
  /** The model ref as requested (a model or a tier). */
  model_ref: string;
  /** The model that answered. */
  model: string;
  /** The answer; an embeddings call has none (content null). */
  message: AssistantMessage;
  finish_reason: FinishReason;
  usage: { prompt_tokens: number; completion_tokens: number; cost_nano: number };
  route: ModelRoute;
  policy: PolicyOutcome;
  /**
   * An embeddings call's vectors, in input order, each as little-endian float32 bytes in base64
   * (`invocation/embedding-vectors.ts`): compact, and exactly what `encoding_format: base64` sends.
   */
  embeddings?: string[];
};
