import type { ModelRoute, PolicyOutcome } from '../../shared/contracts/model-invocation.ts';
import type { Amount } from '../ports/ledger-port.ts';
import { usdFromNano } from '../metering/money.ts';
import type { UsageOutcome, UsageRecord } from '../schemas/usage-record.ts';
import type { ModelCallInput } from './model-call.ts';

/** What a usage record says about a call's end. */
export type RecordFacts = {
  outcome: UsageOutcome;
  policy: PolicyOutcome;
  priceVersion: string;
  route?: ModelRoute;
  promptTokens?: number;
  completionTokens?: number;
  costNano?: number;
  reserved?: Amount;
  /** Usage beyond the reservation, which the budgets were not charged for. */
  beyondReservation?: Amount;
  latencyMs?: number;
  errorCode?: string;
  at: Date;
};

/** The usage record of a call, attributed to tenant, principal, run and request. */
export function usageRecordOf(input: ModelCallInput, facts: RecordFacts): UsageRecord {
  const costNano = facts.costNano ?? 0;
  return {
    request_id: input.requestId,
    correlation_id: input.correlationId,
    tenant_id: input.auth.tenant_id,
    principal_id: input.auth.principal.id,
    principal_type: input.auth.principal.type,
    ...(input.attribution.runId === undefined ? {} : { run_id: input.attribution.runId }),
    ...(input.attribution.step === undefined ? {} : { step: input.attribution.step }),
    endpoint: input.endpoint,
    stream: input.stream,
    model_ref: input.modelRef,
    ...(facts.route === undefined ? {} : { route: facts.route }),
    ...(facts.route !== undefined && (facts.outcome === 'completed' || facts.outcome === 'partial')
      ? { provider: facts.route.provider, model: facts.route.model }
      : {}),
    outcome: facts.outcome,
    ...(facts.errorCode === undefined ? {} : { error_code: facts.errorCode }),
    prompt_tokens: facts.promptTokens ?? 0,
    completion_tokens: facts.completionTokens ?? 0,
    cost_nano: costNano,
    cost_usd: usdFromNano(costNano),
    price_version: facts.priceVersion,
    reserved_tokens: facts.reserved?.tokens ?? 0,
    reserved_nano: facts.reserved?.nano ?? 0,
    ...(facts.beyondReservation === undefined ||
    (facts.beyondReservation.tokens === 0 && facts.beyondReservation.nano === 0)
      ? {}
      : {
          beyond_reservation_tokens: facts.beyondReservation.tokens,
          beyond_reservation_nano: facts.beyondReservation.nano,
        }),
    latency_ms: facts.latencyMs ?? 0,
    policy: facts.policy,
    created_at: facts.at.toISOString(),
  };
}

/** A route that never reached a backend's answer: only failed hops. */
export function failedRoute(modelRef: string, hops: ModelRoute['hops']): ModelRoute | undefined {
  const last = hops.at(-1);
  return last === undefined
    ? undefined
    : { model_ref: modelRef, provider: last.provider, model: last.model, hops };
}
