import type { ModelRoute, RouteHop } from '../../shared/contracts/model-invocation.ts';
import { budgetCharge } from '../budgets/budget-charge.ts';
import type { BudgetCharge } from '../budgets/budget-charge.ts';
import { costNano } from '../metering/price-table.ts';
import type { Amount, CallSettlement } from '../ports/ledger-port.ts';
import { pendingRequestKey } from './call-preparation.ts';
import type { GatewayDeps, PreparedCall } from './call-preparation.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
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
 * What a call's budgets are charged for its actual usage (never past its reservation); usage beyond
 * the reservation is counted in a metric and logged, for the margins to be tuned.
 */
function chargeOf(deps: GatewayDeps, call: PreparedCall, actual: Amount): BudgetCharge {
  const charge = budgetCharge(call.reservation.amount, actual);
  if (charge.beyond.tokens > 0 || charge.beyond.nano > 0) {
    deps.metrics.count('ModelCallsBeyondReservation', 1);
    deps.log.warn('a backend reported more usage than was reserved', {
      reserved_tokens: call.reservation.amount.tokens,
      beyond_tokens: charge.beyond.tokens,
      beyond_nano: charge.beyond.nano,
    });
  }
  return charge;
}

/**
 * Settles a completed call in one atomic ledger write: budgets to the actual cost, capped at the
 * reservation (the rest released), the usage record with the true usage, the aggregates, and the
 * stored response for replays. With deferred settlements (HLD §5.3) the write is started and not
 * waited for, so the answer reaches its client without a store round trip after the model's last
 * byte; the reservation made before the call keeps the budgets whole meanwhile.
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
  const charge = chargeOf(deps, call, actual);
  const settlement: CallSettlement = {
    claim: call.claim,
    request: { kind: 'complete', call: stored },
    budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, charged: charge.charged },
    record: usageRecordOf(call.input, {
      outcome: 'completed',
      policy: stored.policy,
      priceVersion: call.prices.version,
      route: stored.route,
      promptTokens: stored.usage.prompt_tokens,
      completionTokens: stored.usage.completion_tokens,
      costNano: stored.usage.cost_nano,
      reserved: call.reservation.amount,
      beyondReservation: charge.beyond,
      latencyMs,
      at: deps.now(),
    }),
    aggregate: call.aggregate,
  };
  const counted = () => countSettled(deps, call, stored, actual, latencyMs);
  const write = async () => {
    await deps.ledger.settle(call.input.auth.tenant_id, settlement);
    counted();
  };
  if (deps.settlements === undefined) return write();
  const tenantId = call.input.auth.tenant_id;
  deps.settlements.defer(
    pendingRequestKey(tenantId, call.claim.requestKey),
    { tenantId, requestId: call.input.requestId, kind: 'completed' },
    write,
    { settlement, queued: counted },
  );
}

/** The metrics and the spend line of a settled call. */
function countSettled(
  deps: GatewayDeps,
  call: PreparedCall,
  stored: StoredCall,
  actual: Amount,
  latencyMs: number,
): void {
  deps.metrics.count('ModelCalls', 1);
  deps.metrics.count('ModelTokens', actual.tokens);
  deps.metrics.count('ModelFallbacks', stored.route.hops.filter((hop) => hop.outcome === 'fallback').length);
  deps.metrics.count('ModelCostNanoUsd', actual.nano);
  // One line per settled call: CloudWatch Contributor Insights ranks tenants by spend from it
  // (HLD §9.2), since the global metrics above carry no tenant.
  deps.log.info('model call settled', {
    tenant_id: call.input.auth.tenant_id,
    model_ref: stored.route.model_ref,
    tokens: actual.tokens,
    cost_nano_usd: actual.nano,
    latency_ms: latencyMs,
  });
}

/**
 * Writes a settlement on its call's own path (HLD §5.3); one the table refuses goes to the
 * settlement queue, or is logged and counted as lost. Throws only without deferred settlements
 * (settling before the answer), where the caller logs the failure.
 */
async function settleOrHandOff(
  deps: GatewayDeps,
  call: PreparedCall,
  settlement: CallSettlement,
  kind: string,
): Promise<void> {
  const tenantId = call.input.auth.tenant_id;
  try {
    await deps.ledger.settle(tenantId, settlement);
  } catch (error) {
    if (deps.settlements === undefined) throw error;
    await deps.settlements.handOff({ tenantId, requestId: call.input.requestId, kind }, settlement, error);
  }
}

/** Releases the whole reservation and the request id of a call no backend answered. */
export async function settleFailed(
  deps: GatewayDeps,
  call: PreparedCall,
  hops: RouteHop[],
  errorCode: string,
): Promise<void> {
  const route = failedRoute(call.input.modelRef, hops);
  await settleOrHandOff(
    deps,
    call,
    {
      claim: call.claim,
      request: { kind: 'release' },
      budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, charged: nothing },
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
    },
    'failed',
  );
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
  const charge = chargeOf(deps, call, actual);
  await settleOrHandOff(
    deps,
    call,
    {
      claim: call.claim,
      request: { kind: 'release' },
      budgets: { lines: call.reservation.lines, reserved: call.reservation.amount, charged: charge.charged },
      record: usageRecordOf(call.input, {
        outcome: 'partial',
        policy: call.outcome,
        priceVersion: call.prices.version,
        route,
        promptTokens: usage.prompt_tokens,
        completionTokens,
        costNano: actual.nano,
        reserved: call.reservation.amount,
        beyondReservation: charge.beyond,
        latencyMs: deps.now().getTime() - call.startedAt.getTime(),
        errorCode,
        at: deps.now(),
      }),
      aggregate: call.aggregate,
    },
    'partial',
  );
  deps.metrics.count('ModelCallsPartial', 1);
  deps.metrics.count('ModelTokens', actual.tokens);
}
