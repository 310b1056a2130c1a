import { createFailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { randomUUID } from 'node:crypto';
import { imageParts } from '../../shared/contracts/chat.ts';
import type { ChatMessage } from '../../shared/contracts/chat.ts';
import type { PolicyOutcome } from '../../shared/contracts/model-invocation.ts';
import {
  AgentOsError,
  BudgetExceededError,
  ForbiddenError,
  IdempotencyKeyReusedError,
  RateLimitedError,
  RequestInProgressError,
} from '../../shared/errors/agentos-error.ts';
import { budgetLines } from '../budgets/budget-lines.ts';
import { reserveBudget } from '../budgets/budget-reserver.ts';
import type { Reservation } from '../budgets/budget-reserver.ts';
import { leastOutputTokens, noCounters, sizeReservation } from '../budgets/reservation-sizing.ts';
import type { WorstCase } from '../budgets/reservation-sizing.ts';
import { priceTableAt, worstCasePrices } from '../metering/price-table.ts';
import type { PriceTable } from '../metering/price-table.ts';
import { aggregateWindows } from '../metering/usage-windows.ts';
import { requestKey } from '../metering/attribution-keys.ts';
import { evaluatePolicy } from '../policy/policy-engine.ts';
import type { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type {
  AggregateTargets,
  Amount,
  BudgetLine,
  ClaimOutcome,
  LedgerPort,
  RequestClaim,
} from '../ports/ledger-port.ts';
import { promptOverheadTokens } from '../budgets/prompt-overhead.ts';
import { estimatePromptTokens } from '../metering/token-estimate.ts';
import type { ProviderRegistry } from '../router/provider-registry.ts';
import {
  candidatesFor,
  candidatesOfKind,
  embeddingTargets,
  outputLimitOf,
  routeTargets,
} from '../router/route-plan.ts';
import { maxEmbeddingValues } from '../schemas/openai-embeddings.ts';
import type { RouteTarget } from '../router/route-plan.ts';
import type { ModelCatalog } from '../schemas/model-catalog.ts';
import type { TenantModelPolicy } from '../schemas/tenant-policy.ts';
import type { GatewayLog, GatewayMetrics, ModelCallInput } from './model-call.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import { usageRecordOf } from './usage-records.ts';
import {
  modelRequestBucket,
  modelRequestRefusal,
  refuseKnownModelFlood,
  takeModelRequest,
} from './model-request-rate.ts';
import type { RateDecision, RateLimiterPort } from '../../shared/limits/limiter-port.ts';
import type { DeferredSettlements } from './deferred-settlement.ts';

/** What the gateway is built from. */
export type GatewayDeps = {
  catalog: ModelCatalog;
  providers: ProviderRegistry;
  ledger: LedgerPort;
  policies: TenantPolicySource;
  now: () => Date;
  /** How long a request id is remembered (at least 24 h). */
  requestRetentionSeconds: number;
  log: GatewayLog;
  metrics: GatewayMetrics;
  /** How often an in-flight call looks for an abort request; 2 s when absent (HLD §5.3). */
  abortPollMs?: number;
  /** The node's rate limiter for the tenants' model call buckets; none is enforced when absent. */
  limiter?: RateLimiterPort;
  /**
   * Where completed calls settle after their answer is delivered (HLD §5.3); they settle before it
   * when absent.
   */
  settlements?: DeferredSettlements;
};

/** A call that passed policy, holds its request id and has its budget reserved. */
export type PreparedCall = {
  input: ModelCallInput;
  policy: TenantModelPolicy;
  outcome: PolicyOutcome;
  /** The messages as the model sees them (redacted). */
  messages: ChatMessage[];
  targets: RouteTarget[];
  prices: PriceTable;
  promptTokens: number;
  claim: RequestClaim;
  reservation: Reservation;
  aggregate: AggregateTargets;
  startedAt: Date;
  /** How long the call may run, fallbacks and streaming included; it is aborted after. */
  deadlineMs: number;
};

/**
 * What preparing a call gives: the stored result of an earlier call with its request id, or a call
 * ready to route; either with the tenant's model call bucket after it when one was taken.
 */
export type Preparation = ({ kind: 'replay'; call: StoredCall } | { kind: 'ready'; call: PreparedCall }) & {
  rateLimit?: RateDecision;
};

/**
 * The longest any call runs: a Lambda function runs at most 15 minutes, so nothing can wait on a
 * backend longer, and the local node holds calls to the same bound.
 */
const maxCallMs = 900_000;

/**
 * Slack on top of a call's deadline before another attempt may take over its request id: time to
 * settle after the backend answered.
 */
const leaseSlackMs = 60_000;

/** The policy, routing and budget facts of a call before anything is claimed. */
export type CallPlan = {
  policy: TenantModelPolicy;
  outcome: PolicyOutcome;
  messages: ChatMessage[];
  targets: RouteTarget[];
  prices: PriceTable;
  /** The prompt estimate (see `estimatePromptTokens`). */
  promptTokens: number;
  /** Prompt tokens the routable backends add on top of the estimate (see `prompt-overhead.ts`). */
  promptMarginTokens: number;
  maxOutputTokens: number;
};

/**
 * The worst case a planned call could cost: the prompt estimate with the backends' margin, the
 * output it may ask for, priced at the most expensive model of its chain.
 */
export function worstCaseOf(plan: CallPlan): WorstCase {
  return {
    promptTokens: plan.promptTokens + plan.promptMarginTokens,
    maxOutputTokens: plan.maxOutputTokens,
    prices: worstCasePrices(
      plan.prices,
      plan.targets.map((target) => target.modelRef),
    ),
  };
}

/** What planning needs of a call. */
export type PlanSubject = Pick<
  ModelCallInput,
  'auth' | 'modelRef' | 'messages' | 'tools' | 'maxTokens' | 'requireTools' | 'embedding'
>;

/** A plan, or the policy's denial of the call. */
export type PlanResult =
  | { kind: 'planned'; plan: CallPlan }
  | { kind: 'denied'; error: ForbiddenError; outcome: PolicyOutcome; priceVersion: string };

/**
 * Plans a call: resolves the model ref, applies the tenant's policy, picks the routable models and
 * sizes the worst case. Pure apart from reading the tenant's policy.
 *
 * An embeddings call plans onto embedding models only, a chat call onto chat models only; it asks
 * for no output tokens.
 *
 * @throws NotFoundError for an unknown model ref; InvalidRequestError when no model takes the tools,
 * when the model is of the wrong kind or cannot produce the vector length asked for;
 * PayloadTooLargeError when an embeddings answer would be too large to keep for replays.
 */
export async function planCall(deps: GatewayDeps, subject: PlanSubject, at: Date): Promise<PlanResult> {
  const { policy } = await deps.policies.forTenant(subject.auth.tenant_id);
  const embedding = subject.embedding;
  const candidates = candidatesOfKind(
    deps.catalog,
    candidatesFor(deps.catalog, subject.modelRef),
    embedding === undefined ? 'chat' : 'embedding',
    subject.modelRef,
  );
  const prices = priceTableAt(deps.catalog, at);
  const evaluation = evaluatePolicy({
    policy,
    principalId: subject.auth.principal.id,
    modelRef: subject.modelRef,
    candidates,
    messages: subject.messages,
    maxTokens: subject.maxTokens,
  });
  if (!evaluation.allowed) {
    return {
      kind: 'denied',
      error: new ForbiddenError(evaluation.denial.message, {
        details: { rule_id: evaluation.denial.ruleId, policy: evaluation.outcome },
      }),
      outcome: evaluation.outcome,
      priceVersion: prices.version,
    };
  }
  const sendsTools = (subject.tools?.length ?? 0) > 0;
  const images = subject.messages.flatMap((message) =>
    message.role === 'user' ? imageParts(message.content) : [],
  );
  const routable = routeTargets(deps.catalog, evaluation.chain, sendsTools || subject.requireTools === true, {
    any: images.length > 0,
    fetched: images.some((image) => /^https:/i.test(image.image_url.url)),
    modelRef: subject.modelRef,
  });
  const targets =
    embedding === undefined
      ? routable
      : embeddingTargets(deps.catalog, routable, {
          modelRef: subject.modelRef,
          inputs: subject.messages.length,
          ...(embedding.dimensions === undefined ? {} : { dimensions: embedding.dimensions }),
          maxValues: maxEmbeddingValues,
        });
  const modelLimit = embedding === undefined ? outputLimitOf(deps.catalog, targets) : 0;
  return {
    kind: 'planned',
    plan: {
      policy,
      outcome: evaluation.outcome,
      messages: evaluation.messages,
      targets,
      prices,
      promptTokens: estimatePromptTokens(evaluation.messages, subject.tools),
      promptMarginTokens: Math.max(
        ...targets.map((target) => promptOverheadTokens(target.backendKind, sendsTools)),
      ),
      maxOutputTokens: Math.min(evaluation.maxTokens, modelLimit ?? Number.POSITIVE_INFINITY),
    },
  };
}

async function recordRefusalSafely(
  deps: GatewayDeps,
  input: ModelCallInput,
  facts: Parameters<typeof usageRecordOf>[1],
): Promise<void> {
  try {
    await deps.ledger.recordRefusal(input.auth.tenant_id, usageRecordOf(input, facts));
  } catch (error) {
    // The refusal stands whether or not it could be recorded.
    deps.log.warn('could not record a refused model call', { error_name: (error as Error).name });
  }
}

/**
 * How long a call may run. A whole completion is bounded by its backends' timeouts, one per hop; a
 * stream's backend timeout only bounds each wait for the next chunk, so a stream may run until the
 * longest any call runs. The caller's `max_latency_ms` lowers either.
 */
function callDeadlineMs(input: ModelCallInput, plan: CallPlan): number {
  const hopsMs = input.stream ? maxCallMs : plan.targets.reduce((sum, target) => sum + target.timeoutMs, 0);
  return Math.min(hopsMs, input.maxLatencyMs ?? Number.POSITIVE_INFINITY, maxCallMs);
}

/**
 * The claim of a call's request id. Its lease outlasts the call's deadline, so no retry takes the id
 * over (and calls the model again) while the call may still be running.
 */
function claimFor(deps: GatewayDeps, input: ModelCallInput, deadlineMs: number, at: Date): RequestClaim {
  return {
    requestKey: requestKey(input.auth.principal.id, input.requestId),
    requestId: input.requestId,
    principalId: input.auth.principal.id,
    fingerprint: input.fingerprint,
    token: randomUUID(),
    leaseUntil: at.getTime() + deadlineMs + leaseSlackMs,
    expiresAt: Math.floor(at.getTime() / 1000) + deps.requestRetentionSeconds,
    now: at.getTime(),
  };
}

/**
 * Everything before a backend is called (HLD §5.2 model invocation): plan and policy, then the request-id claim (a
 * retry of a completed request replays it; a different body or a request still running is refused)
 * with the atomic budget reservation, which lowers `max_tokens` to what remains. Claim and
 * reservation are one ledger write unless the budgets are short.
 */
export async function prepareCall(deps: GatewayDeps, input: ModelCallInput): Promise<Preparation> {
  const startedAt = deps.now();
  // The tenant's bucket is taken in the claim and reservation's own write when the ledger shares the
  // limiter's buckets (HLD §10.2), so the rate limit adds no round trip of its own and a refused
  // call writes nothing at all. Otherwise (a claim taken alone, a request id already claimed, a
  // budget that cannot take the first reservation, a ledger that does not take it) it is taken on
  // its own, and a refusal wins over whatever the plan and the claim came to (a claim and
  // reservation already written are released, in one write with no usage record). Every request
  // takes from it, a replay too. So does a request the plan then refuses for its own fault (denied,
  // unknown model). A flood the instance already knows is past the rate is refused before anything.
  const limiter = deps.limiter;
  const requestRate = input.requestRate;
  const bucket =
    limiter === undefined || requestRate === undefined
      ? undefined
      : { limiter, ...modelRequestBucket(input.auth.tenant_id, requestRate) };
  if (bucket !== undefined) refuseKnownModelFlood(bucket.limiter, input.auth.tenant_id, bucket.limit);
  let alone: Promise<{ decision?: RateDecision } | { refusal: unknown }> | undefined;
  /** Takes the bucket on its own, once. */
  const takeAlone = () =>
    (alone ??= (
      bucket === undefined
        ? Promise.resolve(undefined)
        : takeModelRequest(bucket.limiter, input.auth.tenant_id, bucket.limit)
    ).then(
      (decision) => (decision === undefined ? {} : { decision }),
      (refusal: unknown) => ({ refusal }),
    ));
  const rateOf = async (): Promise<{ rateLimit?: RateDecision }> => {
    const taken = await takeAlone();
    if ('refusal' in taken) throw taken.refusal;
    return taken.decision === undefined ? {} : { rateLimit: taken.decision };
  };
  let planned: PlanResult;
  try {
    planned = await planCall(deps, input, startedAt);
  } catch (error) {
    await rateOf();
    throw error;
  }
  if (planned.kind === 'denied') {
    await rateOf();
    deps.metrics.count('PolicyDenials', 1);
    await recordRefusalSafely(deps, input, {
      outcome: 'denied',
      policy: planned.outcome,
      priceVersion: planned.priceVersion,
      errorCode: 'forbidden',
      at: startedAt,
    });
    throw planned.error;
  }
  const { plan } = planned;
  const deadlineMs = callDeadlineMs(input, plan);
  const claim = claimFor(deps, input, deadlineMs, startedAt);
  // A retry of a call this process is still settling waits for it, and so replays it.
  await deps.settlements?.settledRequest(pendingRequestKey(input.auth.tenant_id, claim.requestKey));
  const lines = budgetLines(plan.policy.budgets, {
    principalId: input.auth.principal.id,
    runId: input.attribution.runId,
    now: startedAt,
  });
  const worst = worstCaseOf(plan);
  // The claim and the reservation sized as if nothing were committed go in one write (HLD §5.3): the
  // common call's only store round trip before its model is called. When the budgets cannot take
  // that, the claim is taken alone and the reservation sized to the counters read.
  const first = sizeReservation(
    worst,
    lines,
    lines.map(() => noCounters),
  );
  const fitsEmpty = first.outputTokens >= leastOutputTokens(worst);
  // A claim taken alone takes the bucket alongside, not after it.
  if (!fitsEmpty) void takeAlone();
  const claimed = fitsEmpty
    ? await deps.ledger.claimAndReserve(
        input.auth.tenant_id,
        claim,
        lines,
        first.amount,
        bucket === undefined ? undefined : { key: bucket.key, limit: bucket.limit },
      )
    : await deps.ledger.claim(input.auth.tenant_id, claim);
  // Refused in the claim's own write (asked only with a bucket): nothing was written.
  if (claimed.outcome === 'rate_limited') throw modelRequestRefusal(bucket!.limit, claimed.rate);
  let rateLimit: { rateLimit?: RateDecision };
  try {
    rateLimit =
      claimed.outcome === 'reserved' && claimed.rate !== undefined
        ? { rateLimit: claimed.rate }
        : await rateOf();
  } catch (refusal) {
    if (claimed.outcome === 'reserved' || claimed.outcome === 'claimed') {
      const held = claimed.outcome === 'reserved' ? { lines, amount: first.amount } : undefined;
      await releaseUnreserved(deps, input, plan, claim, refusal, startedAt, held);
    }
    throw refusal;
  }
  if (claimed.outcome === 'no_room') {
    // Nothing was written, the claim neither: take it alone, then reserve what the counters allow.
    const alone = await deps.ledger.claim(input.auth.tenant_id, claim);
    if (alone.outcome !== 'claimed') return refusedClaim(deps, input, alone, startedAt, rateLimit);
  } else if (claimed.outcome !== 'claimed' && claimed.outcome !== 'reserved') {
    return refusedClaim(deps, input, claimed, startedAt, rateLimit);
  }
  let reservation: Reservation;
  if (claimed.outcome === 'reserved') {
    reservation = { lines, outputTokens: first.outputTokens, amount: first.amount };
  } else {
    try {
      reservation = await reserveBudget(deps.ledger, input.auth.tenant_id, claim, lines, worst, {
        ...(claimed.outcome === 'no_room'
          ? { counters: await deps.ledger.readBudgets(input.auth.tenant_id, lines) }
          : {}),
      });
    } catch (error) {
      await releaseUnreserved(deps, input, plan, claim, error, startedAt);
      throw error;
    }
  }
  return {
    kind: 'ready',
    call: {
      input,
      policy: plan.policy,
      outcome: { ...plan.outcome, max_tokens_applied: reservation.outputTokens },
      messages: plan.messages,
      targets: plan.targets,
      prices: plan.prices,
      promptTokens: plan.promptTokens,
      claim,
      reservation,
      aggregate: {
        windows: aggregateWindows(startedAt),
        principalId: input.auth.principal.id,
        ...(input.attribution.runId === undefined ? {} : { runId: input.attribution.runId }),
      },
      startedAt,
      deadlineMs,
    },
    ...rateLimit,
  };
}

/** How {@link DeferredSettlements} names the request of a call: its tenant and request key. */
export function pendingRequestKey(tenantId: string, requestKey: string): string {
  return `${tenantId}/${requestKey}`;
}

/**
 * A request id another call holds or held: its stored call for a replay, or the refusal of a
 * different body or of a call still running.
 */
function refusedClaim(
  deps: GatewayDeps,
  input: ModelCallInput,
  found: Exclude<ClaimOutcome, { outcome: 'claimed' }>,
  startedAt: Date,
  rateLimit: { rateLimit?: RateDecision },
): Preparation {
  if (found.outcome === 'replay') {
    deps.metrics.count('ModelCallsReplayed', 1);
    return { kind: 'replay', call: found.call, ...rateLimit };
  }
  if (found.outcome === 'reused') {
    throw new IdempotencyKeyReusedError(
      `Request id ${input.requestId} was already used with a different request`,
    );
  }
  // The holder may have died mid-call (a crashed worker): its claim lapses at the lease, so say when.
  const retryAfterSeconds =
    found.leaseUntil === undefined
      ? undefined
      : Math.max(1, Math.ceil((found.leaseUntil - startedAt.getTime()) / 1000));
  throw new RequestInProgressError(`Request ${input.requestId} is still being processed`, {
    details: retryAfterSeconds === undefined ? {} : { retry_after_seconds: retryAfterSeconds },
  });
}

/**
 * Frees the request id of a call that will not be made, with `held` releasing the reservation it
 * holds in the same write. A usage record says why (the budget, or another failure), except for a
 * refusal by the tenant's request rate (HLD §10.2): that call never happened for the tenant's usage,
 * and a flood past the rate must not write a record per refused call.
 */
async function releaseUnreserved(
  deps: GatewayDeps,
  input: ModelCallInput,
  plan: CallPlan,
  claim: RequestClaim,
  error: unknown,
  at: Date,
  held?: { lines: BudgetLine[]; amount: Amount },
): Promise<void> {
  const overBudget = error instanceof BudgetExceededError;
  if (overBudget) deps.metrics.count('BudgetRefusals', 1);
  try {
    await deps.ledger.settle(input.auth.tenant_id, {
      claim,
      request: { kind: 'release' },
      ...(held === undefined
        ? {}
        : { budgets: { lines: held.lines, reserved: held.amount, charged: { tokens: 0, nano: 0 } } }),
      ...(error instanceof RateLimitedError
        ? {}
        : {
            record: usageRecordOf(input, {
              outcome: overBudget ? 'budget_exceeded' : 'failed',
              policy: plan.outcome,
              priceVersion: plan.prices.version,
              errorCode: error instanceof AgentOsError ? error.code : 'internal',
              at,
            }),
          }),
    });
  } catch (releaseError) {
    // The claim lapses at its lease, and whoever takes it over releases anything it holds.
    deps.log.warn('could not release a request claim', { error_name: (releaseError as Error).name });
  }
}

/** The gateway's {@link FailureReporter}: its log, and its `HandledFailures` counter. */
export function failureReporter(deps: Pick<GatewayDeps, 'log' | 'metrics'>): FailureReporter {
  return createFailureReporter(deps.log, (name, value) => deps.metrics.count(name, value));
}
