import type { ModelRoute, PolicyOutcome } from '../../shared/contracts/model-invocation.ts';

/** How a metered call ended. */
export type UsageOutcome =
  /** The model answered in full. */
  | 'completed'
  /** A stream ended early (backend cut, client gone); what was produced is billed. */
  | 'partial'
  /** No backend could answer; nothing is billed. */
  | 'failed'
  /** Refused by policy before any backend was called. */
  | 'denied'
  /** Refused because no budget could cover it. */
  | 'budget_exceeded';

/**
 * The usage record of one call (HLD §5.3 usage ledger): tokens, cost and the price table version it
 * was computed with, the route and the policy decision, attributed to tenant, principal, run and
 * request. It holds no message content.
 */
export type UsageRecord = {
  request_id: string;
  correlation_id: string;
  tenant_id: string;
  principal_id: string;
  principal_type: 'user' | 'service';
  run_id?: string;
  step?: number;

  endpoint: 'chat.completions' | 'responses' | 'invoke' | 'embeddings';
  stream: boolean;
  /** The model ref as requested. */
  model_ref: string;
  /** Backend and model that answered, when one did. */
  provider?: string;
  model?: string;
  route?: ModelRoute;
  outcome: UsageOutcome;
  error_code?: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_nano: number;
  cost_usd: number;
  price_version: string;
  reserved_tokens: number;
  reserved_nano: number;
  /**
   * Usage the backend reported beyond the reservation (tokens and nano-USD): billed here and in the
   * aggregates, but not charged to the budgets, which never go past their limits.
   */
  beyond_reservation_tokens?: number;
  beyond_reservation_nano?: number;
  /** Time spent in backends, fallbacks included. */
  latency_ms: number;
  policy: PolicyOutcome;
  created_at: string;
};
