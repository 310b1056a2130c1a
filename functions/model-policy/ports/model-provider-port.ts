import type {
  AssistantMessage,
  ChatMessage,
  FinishReason,
  ToolDefinition,
} from '../../shared/contracts/chat.ts';

/**
 * The port every model backend implements (HLD §3.2 `providers`). Requests and results use the
 * OpenAI chat shape; each adapter maps it faithfully to its backend (Bedrock Converse, an
 * OpenAI-compatible server, the local deterministic provider), tool calls included.
 */

/** One call to a backend. `max_tokens` is already capped by policy and budget. */
export type ProviderRequest = {
  /** The backend's own model id, e.g. `anthropic.claude-3-haiku-20240307-v1:0` or `gpt-4o-mini`. */
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  max_tokens: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  /**
   * OpenAI request options that only OpenAI-compatible backends take (HLD §3.2 `providers`): they
   * are forwarded there as given and ignored by backends without an equivalent (Bedrock, local).
   */
  seed?: number;
  user?: string;
  parallel_tool_calls?: boolean;
  metadata?: Record<string, string>;
  store?: boolean;
  /**
   * Structured output: OpenAI-compatible backends take it natively, Bedrock answers through a forced
   * tool call, the local provider generates JSON from the schema. The gateway checks the answer.
   */
  response_format?: ResponseFormat;
  /** Aborts the call (per-provider timeout, or the client went away). */
  signal: AbortSignal;
};

/** The OpenAI `response_format` of a request. */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: {
        name: string;
        description?: string;
        schema?: Record<string, unknown>;
        strict?: boolean | null;
      };
    };

/** Token usage as the backend reported it. */
export type ProviderUsage = { prompt_tokens: number; completion_tokens: number };

/** A whole completion. */
export type ProviderResult = { message: AssistantMessage; finish_reason: FinishReason; usage: ProviderUsage };

/** A piece of a streamed completion. Tool-call deltas follow OpenAI's indexed-delta convention. */
export type ProviderStreamChunk =
  | {
      type: 'delta';
      content?: string;
      tool_calls?: { index: number; id?: string; name?: string; arguments?: string }[];
    }
  | { type: 'finish'; finish_reason: FinishReason; usage: ProviderUsage };

/** One embeddings call to a backend (HLD §3.2 `providers`). */
export type EmbeddingProviderRequest = {
  /** The backend's own model id, e.g. `amazon.titan-embed-text-v2:0`. */
  model: string;
  /** The texts to embed, in order (policy redaction already applied). */
  input: string[];
  /** The vector length asked for, when the caller asked and the model can shorten its vectors. */
  dimensions?: number;
  /** The OpenAI `user`, forwarded to OpenAI-compatible backends only. */
  user?: string;
  signal: AbortSignal;
};

/** A backend's vectors, one per input in input order, and the input tokens it metered. */
export type EmbeddingProviderResult = { embeddings: number[][]; usage: { prompt_tokens: number } };

/** Why a backend call failed, which decides whether the router falls back. */
export type ProviderFailureKind =
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'stream_cut'
  /** A 4xx caused by the request itself: never retried elsewhere. */
  | 'invalid_request'
  /**
   * The backend does not serve the configured model (not in its region, a wrong model id or path):
   * a platform configuration problem, not the caller's, so fall back.
   */
  | 'model_unavailable'
  /** Credentials or permissions of AgentOS at the backend: not the caller's fault, so fall back. */
  | 'auth'
  /** The answer does not match the request's `response_format`: another backend may do better. */
  | 'output_invalid';

/** Failure of a backend call. */
export class ProviderError extends Error {
  readonly kind: ProviderFailureKind;
  readonly status: number | undefined;
  constructor(
    kind: ProviderFailureKind,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
    this.kind = kind;
    this.status = options.status;
  }

  /** True when trying the next backend in the chain may succeed. */
  get fallbackEligible(): boolean {
    return this.kind !== 'invalid_request';
  }
}

/** A model backend. */
export interface ModelProvider {
  /** Backend kind for routes and metering: `bedrock`, `openai`, `local`. */
  readonly kind: string;
  complete(request: ProviderRequest): Promise<ProviderResult>;
  /** Streams a completion; ends with exactly one `finish` chunk, or throws (`stream_cut` if it ends early). */
  stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk>;
  /** Embeds texts; absent on a backend that serves no embedding model. */
  embed?(request: EmbeddingProviderRequest): Promise<EmbeddingProviderResult>;
  /** Releases the adapter's connections once no call uses it any more (a replaced provider). */
  close?(): void;
}
