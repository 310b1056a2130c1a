import { failureReporter } from './call-preparation.ts';
import { randomUUID } from 'node:crypto';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { ChatMessage, ToolDefinition } from '../../shared/contracts/chat.ts';
import type { ModelRoute, PolicyOutcome } from '../../shared/contracts/model-invocation.ts';
import { InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import { redactAssistantMessage } from '../policy/message-redaction.ts';
import { redactionKindsOf, redactionRules } from '../policy/policy-engine.ts';
import type { RedactionCounts } from '../policy/sensitive-text.ts';
import { budgetLines } from '../budgets/budget-lines.ts';
import { sizeReservation } from '../budgets/reservation-sizing.ts';
import { usdFromNano } from '../metering/money.ts';
import {
  completeWithFallback,
  embedWithFallback,
  openStreamWithFallback,
} from '../router/fallback-executor.ts';
import type { RoutedCall } from '../router/fallback-executor.ts';
import { RouteFailure } from '../router/route-failure.ts';
import type { PolicyCheckResponse } from '../schemas/policy-check.ts';
import { planCall, prepareCall, worstCaseOf } from './call-preparation.ts';
import type { GatewayDeps, PreparedCall, Preparation } from './call-preparation.ts';
import type { RateDecision } from '../../shared/limits/limiter-port.ts';
import { actualAmount, settleCompleted, settleFailed } from './call-settlement.ts';
import type { ModelCallInput } from './model-call.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import { pumpStream } from './stream-pump.ts';
import type { StreamEvent } from './stream-pump.ts';
import { watchForAbort } from './abort-watch.ts';
import { packVector } from './embedding-vectors.ts';
import { contentText } from '../../shared/contracts/chat.ts';
import type { AbortWatch } from './abort-watch.ts';

/**
 * A call's result, whether it is the stored result of an earlier call with the same request id, and
 * the tenant's model call bucket after it (when one was taken).
 */
export type CallResult = { call: StoredCall; replayed: boolean; rateLimit?: RateDecision };

/**
 * A stream about to be sent: a replay of a stored call, or a live stream whose route is decided;
 * either with the tenant's model call bucket after it (when one was taken).
 */
export type StreamStart = (
  | { kind: 'replay'; call: StoredCall }
  | {
      kind: 'live';
      completionId: string;
      created: number;
      model: string;
      route: ModelRoute;
      policy: PolicyOutcome;
      events: AsyncGenerator<StreamEvent>;
    }
) & { rateLimit?: RateDecision };

/** The bucket of a preparation, as an optional field to spread into a result. */
function rateLimitOf(preparation: Preparation): { rateLimit?: RateDecision } {
  return preparation.rateLimit === undefined ? {} : { rateLimit: preparation.rateLimit };
}

/** What `POST /v1/policy/check` evaluates. */
export type PolicyCheckInput = {
  auth: AuthContext;
  modelRef: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  maxTokens?: number;
  runId?: string;
};

function newCompletionId(): string {
  return `chatcmpl-${randomUUID().replace(/-/g, '')}`;
}

function newEmbeddingId(): string {
  return `embd-${randomUUID().replace(/-/g, '')}`;
}

function routedCall(deps: GatewayDeps, call: PreparedCall): RoutedCall {
  const { input } = call;
  return {
    modelRef: input.modelRef,
    reportFailure: failureReporter(deps),
    now: () => deps.now().getTime(),
    targets: call.targets,
    // The call ends by its deadline, so it never outlives the lease on its request id.
    signal: AbortSignal.any([input.signal, AbortSignal.timeout(call.deadlineMs)]),
    request: {
      messages: call.messages,
      ...(input.tools === undefined ? {} : { tools: input.tools }),
      ...(input.toolChoice === undefined ? {} : { tool_choice: input.toolChoice }),
      max_tokens: call.reservation.outputTokens,
      ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
      ...(input.topP === undefined ? {} : { top_p: input.topP }),
      ...(input.stop === undefined ? {} : { stop: input.stop }),
      ...input.passThrough,
    },
  };
}

/**
 * The call with its client's signal joined by an abort request's: a call asked to stop ends exactly
 * as one whose client went away (HLD §5.3).
 */
function abortable(input: ModelCallInput, aborter: AbortController): ModelCallInput {
  return { ...input, signal: AbortSignal.any([input.signal, aborter.signal]) };
}

/** A live stream's events, its abort watch stopped once the stream ends. */
async function* watched(events: AsyncGenerator<StreamEvent>, watch: AbortWatch): AsyncGenerator<StreamEvent> {
  try {
    yield* events;
  } finally {
    watch.stop();
  }
}

/**
 * The Model Policy's use cases: a model call (whole or streamed) through policy, request-id claim,
 * budget reservation, routing with fallback and settlement; and a policy check without a call.
 */
export class ModelGateway {
  readonly #deps: GatewayDeps;

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
  }

  /** A whole completion. */
  async complete(input: ModelCallInput): Promise<CallResult> {
    const aborter = new AbortController();
    const preparation = await prepareCall(this.#deps, abortable(input, aborter));
    if (preparation.kind === 'replay')
      return { call: preparation.call, replayed: true, ...rateLimitOf(preparation) };
    const call = preparation.call;
    let routed: Awaited<ReturnType<typeof completeWithFallback>>;
    const watch = watchForAbort(this.#deps, call, aborter);
    try {
      routed = await completeWithFallback(this.#deps.providers, routedCall(this.#deps, call));
    } catch (error) {
      watch.stop();
      throw await this.#failed(call, error);
    }
    watch.stop();
    let message = routed.result.message;
    let policy = call.outcome;
    if (call.policy.redaction.output) {
      const counts: RedactionCounts = {};
      message = redactAssistantMessage(message, redactionKindsOf(call.policy), counts);
      policy = {
        ...policy,
        decision: policy.decision === 'allow' && Object.keys(counts).length > 0 ? 'redact' : policy.decision,
        rules: [...policy.rules, ...redactionRules(counts, 'output')],
        output_redactions: { ...counts },
      };
    }
    const usage = routed.result.usage;
    const stored: StoredCall = {
      request_id: input.requestId,
      completion_id: newCompletionId(),
      created: Math.floor(call.startedAt.getTime() / 1000),
      model_ref: input.modelRef,
      model: routed.target.modelRef,
      message,
      finish_reason: routed.result.finish_reason,
      usage: { ...usage, cost_nano: actualAmount(call, routed.target.modelRef, usage).nano },
      route: routed.route,
      policy,
    };
    await settleCompleted(this.#deps, call, stored, routed.latencyMs);
    return { call: stored, replayed: false, ...rateLimitOf(preparation) };
  }

  /**
   * An embeddings call (`input.embedding` set, one user message per text): the same policy, request-id
   * claim, rate, reservation (input tokens only), fallback and settlement as a completion; the
   * stored call keeps the vectors, so a replay answers them again.
   */
  async embed(input: ModelCallInput): Promise<CallResult> {
    const aborter = new AbortController();
    const preparation = await prepareCall(this.#deps, abortable(input, aborter));
    if (preparation.kind === 'replay')
      return { call: preparation.call, replayed: true, ...rateLimitOf(preparation) };
    const call = preparation.call;
    const embedding = input.embedding ?? {};
    let routed: Awaited<ReturnType<typeof embedWithFallback>>;
    const watch = watchForAbort(this.#deps, call, aborter);
    try {
      routed = await embedWithFallback(this.#deps.providers, {
        modelRef: input.modelRef,
        now: () => this.#deps.now().getTime(),
        targets: call.targets,
        signal: AbortSignal.any([call.input.signal, AbortSignal.timeout(call.deadlineMs)]),
        request: {
          // The texts as policy left them (redacted where the tenant's policy says so).
          input: call.messages.map((message) => contentText(message.content)),
          ...(embedding.dimensions === undefined ? {} : { dimensions: embedding.dimensions }),
          ...(embedding.user === undefined ? {} : { user: embedding.user }),
        },
      });
    } catch (error) {
      watch.stop();
      throw await this.#failed(call, error);
    }
    watch.stop();
    const usage = { prompt_tokens: routed.result.usage.prompt_tokens, completion_tokens: 0 };
    const stored: StoredCall = {
      request_id: input.requestId,
      completion_id: newEmbeddingId(),
      created: Math.floor(call.startedAt.getTime() / 1000),
      model_ref: input.modelRef,
      model: routed.target.modelRef,
      message: { role: 'assistant', content: null },
      finish_reason: 'stop',
      usage: { ...usage, cost_nano: actualAmount(call, routed.target.modelRef, usage).nano },
      route: routed.route,
      policy: call.outcome,
      embeddings: routed.result.embeddings.map(packVector),
    };
    await settleCompleted(this.#deps, call, stored, routed.latencyMs);
    return { call: stored, replayed: false, ...rateLimitOf(preparation) };
  }

  /**
   * A streamed completion. It resolves once a backend has produced its first chunk (falling back
   * until one does), so the caller can still answer with an error status when none does.
   */
  async openStream(input: ModelCallInput): Promise<StreamStart> {
    const aborter = new AbortController();
    const preparation = await prepareCall(this.#deps, abortable(input, aborter));
    if (preparation.kind === 'replay') {
      return { kind: 'replay', call: preparation.call, ...rateLimitOf(preparation) };
    }
    const call = preparation.call;
    let opened: Awaited<ReturnType<typeof openStreamWithFallback>>;
    const watch = watchForAbort(this.#deps, call, aborter);
    try {
      opened = await openStreamWithFallback(this.#deps.providers, routedCall(this.#deps, call));
    } catch (error) {
      watch.stop();
      throw await this.#failed(call, error);
    }
    const identity = {
      completionId: newCompletionId(),
      created: Math.floor(call.startedAt.getTime() / 1000),
    };
    return {
      kind: 'live',
      ...identity,
      model: opened.route.model,
      route: opened.route,
      policy: call.outcome,
      events: watched(pumpStream(this.#deps, call, opened, identity), watch),
      ...rateLimitOf(preparation),
    };
  }

  /**
   * Asks the caller's in-flight call with this request id to stop (HLD §5.3); true when a live call
   * was marked. The invocation holding the call sees it, aborts its backend call and settles it.
   */
  requestAbort(auth: AuthContext, requestId: string): Promise<boolean> {
    return this.#deps.ledger.requestAbort(auth, requestId);
  }

  /** Evaluates a call against policy and budgets without calling a model or reserving anything. */
  async check(input: PolicyCheckInput): Promise<PolicyCheckResponse> {
    const at = this.#deps.now();
    let planned: Awaited<ReturnType<typeof planCall>>;
    try {
      planned = await planCall(this.#deps, input, at);
    } catch (error) {
      return this.#refusedCheck(input.modelRef, error);
    }
    if (planned.kind === 'denied') {
      return {
        object: 'policy.check',
        model_ref: input.modelRef,
        allowed: false,
        policy: planned.outcome,
        chain: [],
        denial: { code: 'forbidden', message: planned.error.message },
        budget: null,
      };
    }
    const { plan } = planned;
    const lines = budgetLines(plan.policy.budgets, {
      principalId: input.auth.principal.id,
      runId: input.runId,
      now: at,
    });
    await this.#deps.settlements?.settledTenant(input.auth.tenant_id);
    const counters = await this.#deps.ledger.readBudgets(input.auth.tenant_id, lines);
    const size = sizeReservation(worstCaseOf(plan), lines, counters);
    const within = size.outputTokens >= 1;
    return {
      object: 'policy.check',
      model_ref: input.modelRef,
      allowed: within,
      policy: { ...plan.outcome, max_tokens_applied: Math.max(size.outputTokens, 0) },
      chain: plan.targets.map((target) => target.modelRef),
      denial: within ? null : { code: 'budget_exceeded', message: 'No budget can cover this request now' },
      budget: {
        within_budget: within,
        max_output_tokens: Math.max(size.outputTokens, 0),
        reserve_tokens: within ? size.amount.tokens : 0,
        reserve_cost_usd: within ? usdFromNano(size.amount.nano) : 0,
        limited_by:
          size.limitedBy === undefined
            ? null
            : { scope: size.limitedBy.scope, period: size.limitedBy.period },
      },
    };
  }

  /** A check of a call that cannot be planned: an unknown model, or tools no model takes. */
  #refusedCheck(modelRef: string, error: unknown): PolicyCheckResponse {
    if (!(error instanceof NotFoundError || error instanceof InvalidRequestError)) throw error;
    return {
      object: 'policy.check',
      model_ref: modelRef,
      allowed: false,
      policy: { decision: 'deny', redactions: {}, rules: [] },
      chain: [],
      denial: {
        code: error instanceof NotFoundError ? 'not_found' : 'invalid_request',
        message: error.message,
      },
      budget: null,
    };
  }

  /** Settles a call no backend answered and returns the error its caller sees. */
  async #failed(call: PreparedCall, error: unknown): Promise<unknown> {
    if (!(error instanceof RouteFailure)) {
      await settleFailed(this.#deps, call, [], 'internal').catch((settleError: unknown) =>
        // The caller sees the original error; the lapsed claim frees the reservation later.
        failureReporter(this.#deps)('a failed call could not be settled', settleError, {}),
      );
      return error;
    }
    const apiError = error.toApiError(call.input.modelRef);
    const last = error.lastError;
    if (last !== undefined) {
      // The backend's own words may name accounts, ARNs or the request: operators read them here,
      // callers get a generic message and the hops.
      this.#deps.log.warn('no model backend answered', {
        error_code: apiError.code,
        reason: last.kind,
        status: last.status,
        upstream_message: last.message,
        hops: error.hops.length,
      });
    }
    try {
      await settleFailed(this.#deps, call, error.hops, apiError.code);
    } catch (settleError) {
      // The caller still learns why the call failed; the reservation stays held, never released twice.
      this.#deps.log.error('could not settle a failed call', { error_name: (settleError as Error).name });
    }
    return apiError;
  }
}
