import type { ModelRoute } from '../../shared/contracts/model-invocation.ts';
import { costNano } from '../metering/price-table.ts';
import type { Amount } from '../ports/ledger-port.ts';
import type { RouteFailure } from '../router/route-failure.ts';
import type { GatewayDeps, PreparedCall } from './call-preparation.ts';
import type { StoredCall } from './stored-call.ts';
import { failedRoute, usageRecordOf } from './usage-records.ts';

const nothing: Amount = { tokens: 0, nano: 0 };

/** What a backend consumed, priced for the model that answered. */
export function actualAmount(
  call: PreparedCall,
  modelRef: string,
  usage: { prompt_tokens: number; completion_tokens: number },
): Amount {
  return {
    tokens: usage.prompt_tokens + usage.completion_tokens,
    nano: costNano(call.prices.pricesOf(modelRef), {
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
    }),
  };
}

/**
 * Settles a completed call in one atomic ledger write: budgets to the actual cost (the rest of the
 * reservation released), the usage record, the aggregates, and the stored response for replays.
 */
export async function settleCompleted(
  deps: GatewayDeps,
  call: PreparedCall,
  stored: StoredCall,
  latencyMs: number,
): Promise<void> {
  const actual = {
    tokens: stored.usage.prompt_tokens + stored.usage.completion_tokens,
    nano: stored.usage.cost_nano,
  };
  await deps.ledger.settle(call.input.auth.tenant_id, {
    claim: call.claim,
    request: { kind: 'complete', call: stored },
    budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, actual },
    record: usageRecordOf(call.input, {
      outcome: 'completed',
      policy: stored.policy,
      priceVersion: call.prices.version,
      route: stored.route,
      promptTokens: stored.usage.prompt_tokens,
      completionTokens: stored.usage.completion_tokens,
      costNano: stored.usage.cost_nano,
      reserved: call.reservation.amount,
      latencyMs,
      at: deps.now(),
    }),
    aggregate: call.aggregate,
  });
  deps.metrics.count('ModelCalls', 1);
  deps.metrics.count('ModelTokens', actual.tokens);
  deps.metrics.count('ModelFallbacks', stored.route.hops.filter((hop) => hop.outcome === 'fallback').length);
}

/** Releases the whole reservation and the request id of a call no backend answered. */
export async function settleFailed(
  deps: GatewayDeps,
  call: PreparedCall,
  failure: RouteFailure,
  errorCode: string,
): Promise<void> {
  const route = failedRoute(call.input.modelRef, failure.hops);
  await deps.ledger.settle(call.input.auth.tenant_id, {
    claim: call.claim,
    request: { kind: 'release' },
    budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, actual: nothing },
    record: usageRecordOf(call.input, {
      outcome: 'failed',
      policy: call.outcome,
      priceVersion: call.prices.version,
      ...(route === undefined ? {} : { route }),
      reserved: call.reservation.amount,
      latencyMs: deps.now().getTime() - call.startedAt.getTime(),
      errorCode,
      at: deps.now(),
    }),
  });
  deps.metrics.count('ModelCallsFailed', 1);
}

/**
 * Bills what a stream produced before it broke (backend cut, client gone) and frees the request id,
 * so the caller may retry: the tokens were consumed upstream whatever happens next.
 */
export async function settlePartial(
  deps: GatewayDeps,
  call: PreparedCall,
  route: ModelRoute,
  completionTokens: number,
  errorCode: string,
): Promise<void> {
  const usage = { prompt_tokens: call.promptTokens, completion_tokens: completionTokens };
  const actual = actualAmount(call, route.model, usage);
  await deps.ledger.settle(call.input.auth.tenant_id, {
    claim: call.claim,
    request: { kind: 'release' },
    budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, actual },
    record: usageRecordOf(call.input, {
      outcome: 'partial',
      policy: call.outcome,
      priceVersion: call.prices.version,
      route,
      promptTokens: usage.prompt_tokens,
      completionTokens,
      costNano: actual.nano,
      reserved: call.reservation.amount,
      latencyMs: deps.now().getTime() - call.startedAt.getTime(),
      errorCode,
      at: deps.now(),
    }),
    aggregate: call.aggregate,
  });
  deps.metrics.count('ModelCallsPartial', 1);
  deps.metrics.count('ModelTokens', actual.tokens);
}
