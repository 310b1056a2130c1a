import type { CallSettlement } from '../ports/ledger-port.ts';
import type { SettlementQueuePort } from '../ports/settlement-queue-port.ts';
import type { GatewayLog, GatewayMetrics } from './model-call.ts';

/** How a deferred settlement is retried. */
export type SettlementRetry = {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The pause before the attempt numbered `attempt` (1 for the first retry). */
  pauseMs: (attempt: number) => number;
  sleep: (ms: number) => Promise<void>;
};

/** Three attempts, 100 ms then 400 ms apart: a settlement's store outage outlasting that is logged. */
export const defaultSettlementRetry: SettlementRetry = {
  attempts: 3,
  pauseMs: (attempt) => 100 * 4 ** (attempt - 1),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The longest a deferred settlement waits for its answer to be delivered before it starts all the
 * same: a path that never says its response is out (no {@link DeferredSettlements.release}) only
 * settles later, never not at all.
 */
export const settlementHoldMs = 1_000;

/** What a deferred settlement names in its failure's log line: never a prompt or an answer. */
export type SettlementFacts = { tenantId: string; requestId: string; kind: string };

/** What goes to the settlement queue when a settlement's own writes keep failing. */
export type SettlementHandOff = {
  settlement: CallSettlement;
  /** Runs once the settlement is queued, as it would once written (its metrics and spend line). */
  queued?: () => void;
};

/**
 * Settlements taken off the client's path (HLD §5.3): a call's answer is delivered first and its
 * ledger write runs after it, so no store round trip lies between the model's last byte and the
 * client's. Budgets are safe meanwhile: the call's reservation, written before the model was
 * called, already holds its worst case on every budget, so they are never exceeded whether the
 * settlement lands now or later. A settlement that fails is retried (bounded); one that still fails
 * is handed to the settlement queue (`ModelSettlementsQueued`), outside the table, whose worker
 * writes it once the table answers again; the ledger applies a settlement once, however often it
 * is written. Only when the queue cannot take it either is it logged and counted
 * (`ModelSettlementsFailed`): its usage is then lost, and its reservation stays held until a retry
 * of its request id takes the lapsed claim over or the budget's period ends.
 *
 * A settlement is held until the HTTP adapter says the answer is out ({@link release}, called once
 * the response stream is closed): its write's own work (marshalling, signing) would otherwise share
 * the process with the answer's last bytes and delay them. It starts after {@link settlementHoldMs}
 * all the same.
 *
 * A process waits for its own pending settlements where a caller would notice them: before a
 * request id is claimed again, before a tenant's usage or budgets are read, and (on Lambda) before
 * the invocation ends, after the response stream is closed. Waiting starts what is held.
 */
export class DeferredSettlements {
  readonly #log: GatewayLog;
  readonly #metrics: GatewayMetrics;
  readonly #retry: SettlementRetry;
  readonly #byTenant = new Map<string, Set<Promise<void>>>();
  readonly #byRequest = new Map<string, Promise<void>>();
  /** Starts each settlement still held for its answer's delivery. */
  readonly #held = new Set<() => void>();
  readonly #holdMs: number;
  readonly #queue: SettlementQueuePort | undefined;

  constructor(deps: {
    log: GatewayLog;
    metrics: GatewayMetrics;
    retry?: SettlementRetry;
    /** {@link settlementHoldMs} unless given. */
    holdMs?: number;
    /** Where a settlement goes when its writes keep failing; without one it is logged and lost. */
    queue?: SettlementQueuePort;
  }) {
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#retry = deps.retry ?? defaultSettlementRetry;
    this.#holdMs = deps.holdMs ?? settlementHoldMs;
    this.#queue = deps.queue;
  }

  /** How many settlements are still running. */
  get pending(): number {
    return this.#byRequest.size;
  }

  /**
   * Starts `settle` without waiting for it; `requestKey` names the call's request (tenant included)
   * so a retry of it waits for the settlement. `handOff` is what the settlement queue is given if
   * `settle` keeps failing. Never rejects.
   */
  defer(
    requestKey: string,
    facts: SettlementFacts,
    settle: () => Promise<void>,
    handOff?: SettlementHandOff,
  ): void {
    const running = this.#settle(facts, settle, handOff);
    const tenant = this.#byTenant.get(facts.tenantId) ?? new Set<Promise<void>>();
    tenant.add(running);
    this.#byTenant.set(facts.tenantId, tenant);
    this.#byRequest.set(requestKey, running);
    void running.finally(() => {
      tenant.delete(running);
      if (tenant.size === 0 && this.#byTenant.get(facts.tenantId) === tenant) {
        this.#byTenant.delete(facts.tenantId);
      }
      if (this.#byRequest.get(requestKey) === running) this.#byRequest.delete(requestKey);
    });
  }

  /**
   * Starts every held settlement: the answers they waited for are delivered. A process serving
   * several requests at once starts the others' settlements too, only sooner than their answers.
   */
  release(): void {
    for (const start of [...this.#held]) start();
  }

  /** Waits for the pending settlement of a request, if this process has one. */
  async settledRequest(requestKey: string): Promise<void> {
    const pending = this.#byRequest.get(requestKey);
    if (pending === undefined) return;
    this.release();
    await pending;
  }

  /** Waits for this process's pending settlements of a tenant's calls. */
  async settledTenant(tenantId: string): Promise<void> {
    const tenant = this.#byTenant.get(tenantId);
    if (tenant === undefined) return;
    this.release();
    await Promise.all(tenant);
  }

  /** Starts and waits for every pending settlement (a Lambda invocation's end, a node's shutdown). */
  async drain(): Promise<void> {
    while (this.#byRequest.size > 0) {
      this.release();
      await Promise.all(this.#byRequest.values());
    }
  }

  /** Resolves once the settlement may start: on {@link release}, or after the hold at the latest. */
  #heldTurn(): Promise<void> {
    return new Promise((resolve) => {
      const start = () => {
        clearTimeout(timer);
        this.#held.delete(start);
        resolve();
      };
      const timer = setTimeout(start, this.#holdMs);
      this.#held.add(start);
    });
  }

  async #settle(
    facts: SettlementFacts,
    settle: () => Promise<void>,
    handOff: SettlementHandOff | undefined,
  ): Promise<void> {
    await this.#heldTurn();
    for (let attempt = 0; ; attempt += 1) {
      try {
        await settle();
        return;
      } catch (error) {
        if (attempt + 1 >= this.#retry.attempts) {
          const queued = await this.#giveUp(facts, handOff?.settlement, attempt + 1, error);
          if (queued) handOff?.queued?.();
          return;
        }
        await this.#retry.sleep(this.#retry.pauseMs(attempt + 1));
      }
    }
  }

  /**
   * Hands a settlement written on its call's own path (a failed call's release, a broken stream's
   * bill), whose write just failed, to the settlement queue. True when the queue took it; false
   * when there is none or it refused too, which is logged and counted (`ModelSettlementsFailed`).
   */
  handOff(facts: SettlementFacts, settlement: CallSettlement, error: unknown): Promise<boolean> {
    return this.#giveUp(facts, settlement, 1, error);
  }

  /** Hands a settlement whose writes kept failing to the queue, or, failing that, logs it as lost. */
  async #giveUp(
    facts: SettlementFacts,
    settlement: CallSettlement | undefined,
    attempts: number,
    error: unknown,
  ): Promise<boolean> {
    const named = {
      tenant_id: facts.tenantId,
      request_id: facts.requestId,
      settlement: facts.kind,
      attempts,
      error_name: (error as Error).name,
    };
    let queueError: string | undefined;
    if (settlement !== undefined && this.#queue !== undefined) {
      try {
        await this.#queue.enqueue(facts.tenantId, settlement);
        this.#metrics.count('ModelSettlementsQueued', 1);
        this.#log.warn(
          'a model call could not be settled yet; its settlement is queued to be written',
          named,
        );
        return true;
      } catch (queueFailure) {
        queueError = (queueFailure as Error).name;
      }
    }
    this.#metrics.count('ModelSettlementsFailed', 1);
    this.#log.error('a model call could not be settled; its usage is lost and its reservation stays held', {
      ...named,
      ...(queueError === undefined ? {} : { queue_error_name: queueError }),
    });
    return false;
  }
}
