import type { handledFailuresMetric } from '../../shared/observability/failure-reporter.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ChatMessage, ToolDefinition } from '../../shared/contracts/chat.ts';
import type { RateLimit } from '../../shared/limits/limiter-port.ts';
import type { ToolChoice } from '../schemas/openai-chat.ts';
import type { ProviderRequest } from '../ports/model-provider-port.ts';

/** OpenAI request options forwarded to OpenAI-compatible backends and ignored by the others. */
export type PassThroughOptions = Pick<
  ProviderRequest,
  'seed' | 'user' | 'parallel_tool_calls' | 'metadata' | 'store' | 'response_format'
>;

/** A model call as both API forms hand it to the gateway. */
export type ModelCallInput = {
  auth: AuthContext;

  endpoint: 'chat.completions' | 'responses' | 'invoke' | 'embeddings';
  stream: boolean;
  requestId: string;
  /** Hash of the request body: a retry with the same id must send the same request. */
  fingerprint: string;
  correlationId: string;
  /** A concrete model or a `tier:`. */
  modelRef: string;
  /** The conversation; for an embeddings call, one user message per text, so policy applies alike. */
  messages: ChatMessage[];
  /** Set for an embeddings call: it goes to embedding models only, and produces no output tokens. */
  embedding?: { dimensions?: number; user?: string };
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /** OpenAI request options passed through to the backends that take them (see `ProviderRequest`). */
  passThrough?: PassThroughOptions;
  /** Only models that accept tools, even when the call carries none. */
  requireTools?: boolean;
  /** Overall deadline for the call, fallbacks included. */
  maxLatencyMs?: number;
  attribution: { runId?: string; step?: number };
  signal: AbortSignal;
  /** The tenant's model call bucket; no request rate is enforced without it (or without a limiter). */
  requestRate?: RateLimit;
};

/** Where a gateway writes what operators need to know (never message content). */
export type GatewayLog = {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
};

/** Counters for the service's global metrics (no tenant dimension, HLD §9.2). */
export type GatewayMetrics = { count(name: GatewayMetricName, value: number): void };

/** The metrics the gateway counts. */
export type GatewayMetricName =
  | 'ModelCalls'
  | 'ModelTokens'
  | 'ModelFallbacks'
  | 'ModelCostNanoUsd'
  | 'ModelCallsFailed'
  | 'ModelCallsPartial'
  | 'ModelCallsBeyondReservation'
  | 'ModelSettlementsFailed'
  | 'ModelSettlementsQueued'
  | 'ModelCallsReplayed'
  | 'PolicyDenials'
  | 'BudgetRefusals'
  | typeof handledFailuresMetric;
