import type { Clock } from '../timing/clock.ts';
import { tenantInsightRules } from './contributor-insights.ts';
import type { TenantInsightRuleName } from './contributor-insights.ts';

/** One tracked key of a {@link SpaceSaving} summary: its estimated weight and how much of it may be overcounted. */
export type HeavyHitter = { key: string; weight: number; overcount: number };

/**
 * A weighted space-saving summary (Metwally et al.): the heaviest keys of a stream in a fixed
 * number of counters, whatever the number of distinct keys. A key not tracked when the summary is
 * full takes the lightest counter over, inheriting its weight as `overcount`, so a heavy key is
 * never missed and every estimate is at most `overcount` above the truth.
 */
export class SpaceSaving {
  readonly #capacity: number;
  readonly #counters = new Map<string, { weight: number; overcount: number }>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('capacity must be a positive integer');
    this.#capacity = capacity;
  }

  /** Keys tracked now (never more than the capacity). */
  get size(): number {
    return this.#counters.size;
  }

  /** Adds `weight` (> 0) to `key`. */
  add(key: string, weight = 1): void {
    if (!(weight > 0) || !Number.isFinite(weight)) return;
    const counter = this.#counters.get(key);
    if (counter !== undefined) {
      counter.weight += weight;
      return;
    }
    if (this.#counters.size < this.#capacity) {
      this.#counters.set(key, { weight, overcount: 0 });
      return;
    }
    // A linear scan: the capacity is small (tens to hundreds), and adds are per request.
    let lightestKey: string | undefined;
    let lightest = Infinity;
    for (const [tracked, { weight: trackedWeight }] of this.#counters) {
      if (trackedWeight < lightest) {
        lightest = trackedWeight;
        lightestKey = tracked;
      }
    }
    if (lightestKey !== undefined) this.#counters.delete(lightestKey);
    this.#counters.set(key, { weight: lightest + weight, overcount: lightest });
  }

  /** Every tracked key, heaviest first. */
  entries(): HeavyHitter[] {
    return [...this.#counters]
      .map(([key, counter]) => ({ key, ...counter }))
      .sort((a, b) => b.weight - a.weight || a.key.localeCompare(b.key));
  }
}

/**
 * The heaviest keys of the last `windowMs`: the window is cut in `slots` slots of equal length, each
 * its own {@link SpaceSaving} summary; a slot is dropped whole once it ended before the window began,
 * and a query sums the live slots' estimates, so it covers at least the whole window and at most one
 * slot more. Memory is `(slots + 1) × capacity` counters whatever the traffic.
 */
export class WindowedTopN {
  readonly #clock: Clock;
  readonly #slotMs: number;
  readonly #capacity: number;
  readonly #slots: { start: number; summary: SpaceSaving }[] = [];
  readonly #slotCount: number;

  constructor(options: { clock: Clock; windowMs: number; slots: number; capacity: number }) {
    if (options.slots < 1 || options.windowMs < options.slots) throw new Error('invalid window');
    this.#clock = options.clock;
    this.#slotCount = options.slots;
    this.#slotMs = Math.floor(options.windowMs / options.slots);
    this.#capacity = options.capacity;
  }

  #live(now: number): { start: number; summary: SpaceSaving }[] {
    // A slot that still overlaps the window stays: dropping it at the slot boundary would lose up to a
    // slot's worth of the window.
    const windowStart = now - this.#slotCount * this.#slotMs;
    while (this.#slots.length > 0 && this.#slots[0]!.start + this.#slotMs <= windowStart) this.#slots.shift();
    return this.#slots;
  }

  /** Adds `weight` to `key` in the current slot. */
  add(key: string, weight = 1): void {
    const now = this.#clock.now();
    const slots = this.#live(now);
    const start = Math.floor(now / this.#slotMs) * this.#slotMs;
    let current = slots.at(-1);
    if (current === undefined || current.start !== start) {
      current = { start, summary: new SpaceSaving(this.#capacity) };
      slots.push(current);
    }
    current.summary.add(key, weight);
  }

  /** The `n` heaviest keys over the live slots, heaviest first. */
  top(n: number): HeavyHitter[] {
    const merged = new Map<string, { weight: number; overcount: number }>();
    for (const { summary } of this.#live(this.#clock.now())) {
      for (const entry of summary.entries()) {
        const sum = merged.get(entry.key) ?? { weight: 0, overcount: 0 };
        sum.weight += entry.weight;
        sum.overcount += entry.overcount;
        merged.set(entry.key, sum);
      }
    }
    return [...merged]
      .map(([key, sum]) => ({ key, ...sum }))
      .sort((a, b) => b.weight - a.weight || a.key.localeCompare(b.key))
      .slice(0, n);
  }
}

/**
 * What a local node ranks tenants by: the three Contributor Insights rules of the deployed node
 * (requests, server errors, model spend), evaluated on the same log events, and request latency
 * (milliseconds spent serving the tenant's requests).
 */
export const localTenantRankings = {
  'tenant-requests': { title: tenantInsightRules['tenant-requests'].title, unit: 'requests' },
  'tenant-server-errors': { title: tenantInsightRules['tenant-server-errors'].title, unit: 'server errors' },
  'tenant-latency': { title: 'Top tenants by time spent serving their requests (ms)', unit: 'ms' },
  'tenant-model-spend': { title: tenantInsightRules['tenant-model-spend'].title, unit: 'nano-USD' },
} as const satisfies Record<string, { title: string; unit: string }>;

/** The name of one of {@link localTenantRankings}. */
export type LocalTenantRanking = keyof typeof localTenantRankings;

/** One ranking's top tenants: ids and estimates only (HLD §9.2: no other tenant data). */
export type TenantRankingView = {
  ranking: LocalTenantRanking;
  title: string;
  unit: string;
  top: { tenant_id: string; value: number; overcount: number }[];
};

/** How a local node's tenant rankings are bounded. */
export type LocalTenantTopOptions = {
  clock: Clock;
  /** The window ranked (default 15 minutes). */
  windowMs?: number;
  /** Slots the window is cut in (default 3). */
  slots?: number;
  /** Counters per slot and ranking (default 100). */
  capacity?: number;
  /** Tenants each ranking reports (default 10). */
  topN?: number;
};

function matches(
  rule: (typeof tenantInsightRules)[TenantInsightRuleName],
  message: string,
  attributes: Record<string, unknown>,
): boolean {
  return rule.filters.every((filter) => {
    const field = filter.Match.replace(/^\$\./, '');
    const value = field === 'message' ? message : attributes[field];
    if ('In' in filter) return (filter.In as unknown[]).includes(value);
    if ('IsPresent' in filter) return (value !== undefined) === filter.IsPresent;
    if ('GreaterThan' in filter) return typeof value === 'number' && value > (filter.GreaterThan as number);
    return false;
  });
}

/**
 * A local node's per-tenant pre-aggregation (HLD §9.2): top tenants by requests, server errors,
 * latency and model spend over a sliding window, in bounded memory, fed with the structured log
 * events the services write (`request served`, `model call settled`). Tenant ids live here and in
 * the dashboard only, never in a metric label.
 */
export class LocalTenantTop {
  readonly #rankings: Record<LocalTenantRanking, WindowedTopN>;
  readonly #topN: number;

  constructor(options: LocalTenantTopOptions) {
    const window = {
      clock: options.clock,
      windowMs: options.windowMs ?? 15 * 60_000,
      slots: options.slots ?? 3,
      capacity: options.capacity ?? 100,
    };
    this.#topN = options.topN ?? 10;
    this.#rankings = {
      'tenant-requests': new WindowedTopN(window),
      'tenant-server-errors': new WindowedTopN(window),
      'tenant-latency': new WindowedTopN(window),
      'tenant-model-spend': new WindowedTopN(window),
    };
  }

  /** Counts one structured log event, as the Contributor Insights rules would count its line. */
  observe(message: string, attributes: Record<string, unknown>): void {
    const tenant = attributes['tenant_id'];
    if (typeof tenant !== 'string' || tenant === '') return;
    for (const name of ['tenant-requests', 'tenant-server-errors', 'tenant-model-spend'] as const) {
      const rule = tenantInsightRules[name];
      if (!matches(rule, message, attributes)) continue;
      const sumOf = 'sumOf' in rule ? attributes[rule.sumOf.replace(/^\$\./, '')] : 1;
      if (typeof sumOf === 'number') this.#rankings[name].add(tenant, sumOf);
    }
    const latency = attributes['duration_ms'];
    if (message === 'request served' && typeof latency === 'number')
      this.#rankings['tenant-latency'].add(tenant, latency);
  }

  /** Every ranking's top tenants over the window. */
  views(): TenantRankingView[] {
    return (Object.keys(localTenantRankings) as LocalTenantRanking[]).map((ranking) => ({
      ranking,
      ...localTenantRankings[ranking],
      top: this.#rankings[ranking]
        .top(this.#topN)
        .map((hit) => ({ tenant_id: hit.key, value: hit.weight, overcount: hit.overcount })),
    }));
  }
}

type Observer = { observe(message: string, attributes: Record<string, unknown>): void };

/** Kept on `globalThis`: bundled handlers each have their own copy of this module. */
const slot = globalThis as { [key: symbol]: Observer | undefined };
const key = Symbol.for('agentos.local-tenant-top');

/**
 * Makes `top` the process's tenant pre-aggregation: a local node installs one, and the services'
 * log events feed it from then on. Nothing is installed on AWS, where Contributor Insights ranks
 * tenants from the logs instead.
 */
export function installLocalTenantTop(top: Observer | undefined): void {
  slot[key] = top;
}

/**
 * Tells the installed tenant pre-aggregation of one structured log event (a no-op when none is
 * installed). Called beside the log line it mirrors, with the line's attributes.
 */
export function observeTenantLogEvent(message: string, attributes: Record<string, unknown>): void {
  slot[key]?.observe(message, attributes);
}

/** A structured log as the services' domain code writes to it. */
export type StructuredLog = {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
};

/** `log`, also telling the installed tenant pre-aggregation of every info event it writes. */
export function tenantObservingLog(log: StructuredLog): StructuredLog {
  return {
    info(message, attributes) {
      log.info(message, attributes);
      observeTenantLogEvent(message, attributes);
    },
    warn: (message, attributes) => log.warn(message, attributes),
    error: (message, attributes) => log.error(message, attributes),
  };
}
