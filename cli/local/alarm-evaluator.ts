import type { AlarmDefinition, AlarmId } from '../../functions/shared/observability/alarm-catalog.ts';
import { breaches } from '../../functions/shared/observability/alarm-catalog.ts';
import type { AlertNotifier, NotifyOutcome } from '../../functions/shared/observability/alert-notifier.ts';
import type { Clock } from '../../functions/shared/timing/clock.ts';

/**
 * One period's value of an alarm, as a signal source measured it: `undefined` when the period had no
 * data (the alarm's `missing_data` decides). A per-tenant alarm gives one sample per tenant it saw.
 */
export type AlarmSample = { alarmId: AlarmId; value: number | undefined; tenantId?: string };

/** Reads the node's signals of the period that just ended. */
export type SignalSource = { read(): Promise<AlarmSample[]> };

/** What one evaluation decided for one alarm (and tenant). */
export type AlarmDecision = {
  alarmId: AlarmId;
  tenantId?: string;
  value: number | undefined;
  /** Consecutive breaching periods so far. */
  breaching: number;
  fired: boolean;
  /** The notifier's outcome when it fired; `error` when the e-mail could not be sent. */
  notified?: NotifyOutcome | { error: string };
};

/**
 * Evaluates the alarm catalog over a node's signals, one period per {@link evaluate} call, the way
 * CloudWatch evaluates the deployed alarms (HLD §9.3): an alarm fires once `evaluation_periods`
 * consecutive periods breached its threshold, and keeps firing while they do; the notifier's dedup
 * window turns that into one e-mail. A period without data counts as its `missing_data` says.
 */
export class AlarmEvaluator {
  readonly #alarms: Map<AlarmId, AlarmDefinition>;
  readonly #source: SignalSource;
  readonly #notifier: AlertNotifier;
  readonly #clock: Clock;
  readonly #node: { nodeId: string; stage: string };
  /**
   * Alarm (and tenant) → consecutive breaching periods, least recently updated first (a Map keeps
   * insertion order and an update re-inserts). Bounded: when full, the stalest streak is evicted so
   * a newly breaching alarm or tenant is still evaluated; an evicted streak that breaches again
   * starts over at one period.
   */
  readonly #streaks = new Map<string, number>();
  readonly #maxStreaks: number;
  #evictions = 0;

  constructor(options: {
    alarms: readonly AlarmDefinition[];
    source: SignalSource;
    notifier: AlertNotifier;
    clock: Clock;
    nodeId: string;
    stage: string;
    /** The most streaks kept at once (default 10,000). */
    maxStreaks?: number;
  }) {
    this.#maxStreaks = Math.max(1, options.maxStreaks ?? 10_000);
    this.#alarms = new Map(options.alarms.map((alarm) => [alarm.id, alarm]));
    this.#source = options.source;
    this.#notifier = options.notifier;
    this.#clock = options.clock;
    this.#node = { nodeId: options.nodeId, stage: options.stage };
  }

  /** Streaks evicted so far to keep the streak map bounded (a sign of many tenants breaching at once). */
  get evictions(): number {
    return this.#evictions;
  }

  /** Streaks held now. */
  get streaks(): number {
    return this.#streaks.size;
  }

  #keep(key: string, streak: number): void {
    while (this.#streaks.size >= this.#maxStreaks) {
      const stalest = this.#streaks.keys().next().value;
      if (stalest === undefined) break;
      this.#streaks.delete(stalest);
      this.#evictions += 1;
    }
    this.#streaks.set(key, streak);
  }

  /** Evaluates one period: reads the signals, updates each alarm's streak, fires what breached long enough. */
  async evaluate(): Promise<AlarmDecision[]> {
    const samples = await this.#source.read();
    const decisions: AlarmDecision[] = [];
    for (const sample of samples) {
      const alarm = this.#alarms.get(sample.alarmId);
      if (alarm === undefined) continue;
      const key = `${alarm.id}/${sample.tenantId ?? ''}`;
      const breached =
        sample.value === undefined ? alarm.missing_data === 'breaching' : breaches(alarm, sample.value);
      const streak = breached ? (this.#streaks.get(key) ?? 0) + 1 : 0;
      this.#streaks.delete(key);
      if (streak > 0) this.#keep(key, streak);
      const decision: AlarmDecision = {
        alarmId: alarm.id,
        ...(sample.tenantId === undefined ? {} : { tenantId: sample.tenantId }),
        value: sample.value,
        breaching: streak,
        fired: streak >= alarm.evaluation_periods,
      };
      if (decision.fired) {
        try {
          decision.notified = await this.#notifier.notify({
            alarm,
            nodeId: this.#node.nodeId,
            stage: this.#node.stage,
            // A period without data that breaches (no health check answered) reports 0.
            value: sample.value ?? 0,
            firedAtMs: this.#clock.now(),
            ...(sample.tenantId === undefined ? {} : { tenantId: sample.tenantId }),
          });
        } catch (error) {
          // The next period tries again: the notifier gave its dedup claim back.
          decision.notified = { error: error instanceof Error ? error.message : String(error) };
        }
      }
      decisions.push(decision);
    }
    return decisions;
  }

  /**
   * Evaluates every `periodMs` until `signal` aborts; each period's decisions go to `onPeriod`. A
   * failed read is reported there too and the loop goes on: a monitor must outlive what it watches.
   */
  async run(
    periodMs: number,
    signal: AbortSignal,
    onPeriod: (result: AlarmDecision[] | { error: unknown }) => void,
  ): Promise<void> {
    while (!signal.aborted) {
      await this.#clock.sleep(periodMs, signal);
      if (signal.aborted) return;
      try {
        onPeriod(await this.evaluate());
      } catch (error) {
        onPeriod({ error });
      }
    }
  }
}
