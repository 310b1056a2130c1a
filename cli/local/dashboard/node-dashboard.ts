import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { GatewayMetricName } from '../../../functions/model-policy/invocation/model-call.ts';
import { terminalRunMetrics } from '../../../functions/orchestrator/adapters/event-sink/log-event-sink.ts';
import { alarmCatalog } from '../../../functions/shared/observability/alarm-catalog.ts';
import type { AlarmId } from '../../../functions/shared/observability/alarm-catalog.ts';
import type {
  LocalTenantTop,
  TenantRankingView,
} from '../../../functions/shared/observability/local-tenant-top.ts';
import type { Clock } from '../../../functions/shared/timing/clock.ts';
import { localProbeHeader } from '../lambda-http-front.ts';
import type { ServedRequest } from '../lambda-http-front.ts';
import { p95 } from '../local-signals.ts';
import {
  dashboardCsp,
  dashboardCss,
  dashboardHtml,
  dashboardIcon,
  dashboardPaths,
  dashboardScript,
} from './dashboard-page.ts';

/** The metric names an alarm of the catalog reads, so the dashboard follows a rename there. */
function alarmMetric(id: AlarmId, index = 0): string {
  const name = alarmCatalog.find((alarm) => alarm.id === id)?.metrics[index];
  if (name === undefined) throw new Error(`the alarm catalog has no metric ${index} for ${id}`);
  return name;
}

/** A model-policy counter, named as the gateway's type names it (a rename there fails the build here). */
const gatewayMetric = (name: GatewayMetricName): string => name;

/**
 * The registry counters the dashboard charts, by series key: the names the services publish as EMF
 * (HLD §9.1), read from the definitions that name them.
 */
const counterSeries = {
  requests: { label: 'requests', metric: alarmMetric('high_error_rate', 1) },
  server_errors: { label: '5xx', metric: alarmMetric('high_error_rate', 0) },
  model_calls_failed: { label: 'model calls failed', metric: alarmMetric('model_backend_unreachable') },
  runs_completed: { label: 'completed', metric: terminalRunMetrics['run.completed'] },
  runs_failed: { label: 'failed', metric: terminalRunMetrics['run.failed'] },
  runs_canceled: { label: 'canceled', metric: terminalRunMetrics['run.canceled'] },
  model_calls: { label: 'model calls', metric: gatewayMetric('ModelCalls') },
  model_tokens: { label: 'tokens', metric: gatewayMetric('ModelTokens') },
  model_cost_nano_usd: { label: 'spend (nano-USD)', metric: gatewayMetric('ModelCostNanoUsd') },
  budget_refusals: { label: 'budget refusals', metric: alarmMetric('tenant_budget_exceeded') },
} as const;

type CounterKey = keyof typeof counterSeries;

/** Series the node measures itself rather than reading from the registry. */
type OwnKey =
  | 'healthy_apis'
  | 'latency_p50'
  | 'latency_p95'
  | 'latency_p99'
  | 'queue_visible'
  | 'queue_in_flight'
  | 'dead_letters'
  | 'open_streams';

/** The key of one charted series. */
export type SeriesKey = CounterKey | OwnKey;

/** One chart: its series share an axis. */
export type DashboardPanel = {
  id: string;
  title: string;
  unit: string;
  series: { key: SeriesKey; label: string }[];
};

const counter = (key: CounterKey) => ({ key, label: counterSeries[key].label });

/** The panels, mirroring the deployed node's CloudWatch dashboard (infra/constructs/node-alarms.ts). */
export const dashboardPanels: DashboardPanel[] = [
  {
    id: 'health',
    title: 'Service health (APIs answering health checks, requests)',
    unit: '',
    series: [{ key: 'healthy_apis', label: 'healthy APIs' }, counter('requests')],
  },
  {
    id: 'latency',
    title: 'API latency percentiles (ms, buffered responses)',
    unit: 'ms',
    series: [
      { key: 'latency_p50', label: 'p50' },
      { key: 'latency_p95', label: 'p95' },
      { key: 'latency_p99', label: 'p99' },
    ],
  },
  {
    id: 'errors',
    title: 'Errors (5xx, failed model calls)',
    unit: '',
    series: [counter('server_errors'), counter('model_calls_failed')],
  },
  {
    id: 'runs',
    title: 'Runs by terminal status',
    unit: 'runs',
    series: [counter('runs_completed'), counter('runs_failed'), counter('runs_canceled')],
  },
  {
    id: 'model',
    title: 'Model calls and tokens',
    unit: '',
    series: [counter('model_calls'), counter('model_tokens')],
  },
  {
    id: 'spend',
    title: 'Model spend (nano-USD) and calls refused for budget',
    unit: '',
    series: [counter('model_cost_nano_usd'), counter('budget_refusals')],
  },
  {
    id: 'queue',
    title: 'Step queue depth, and dead-lettered steps or settlements',
    unit: 'messages',
    series: [
      { key: 'queue_visible', label: 'waiting' },
      { key: 'queue_in_flight', label: 'in flight' },
      { key: 'dead_letters', label: 'dead-lettered' },
    ],
  },
  {
    id: 'streams',
    title: 'Open event streams (SSE connections)',
    unit: 'streams',
    series: [{ key: 'open_streams', label: 'open streams' }],
  },
];

/** The totals shown as tiles: cumulative since the node process started. */
const totalKeys: CounterKey[] = [
  'requests',
  'server_errors',
  'runs_completed',
  'runs_failed',
  'runs_canceled',
  'model_calls',
  'model_tokens',
  'model_cost_nano_usd',
  'budget_refusals',
];

/** One sampled period: each series' value, `null` where it had no data. */
export type DashboardPoint = { t: number; values: Partial<Record<SeriesKey, number | null>> };

/** The dashboard's JSON document (`GET /dashboard/data.json`). */
export type DashboardData = {
  node_id: string;
  generated_at: number;
  period_ms: number;
  health: { api: string; up: boolean | null }[];
  totals: { key: CounterKey; label: string; value: number }[];
  panels: DashboardPanel[];
  points: DashboardPoint[];
  tenant_window_ms: number;
  tenants: TenantRankingView[];
  /** Samples whose queue depth could not be read, and the last failure's error name. */
  failed_queue_reads: number;
  last_queue_error: string | null;
};

/** What the dashboard reads besides the registry. */
export type DashboardSources = {
  registry: Registry;
  tenants: LocalTenantTop;
  tenantWindowMs: number;
  /** Health URLs by API name (read at each sample: fronts are added as they start). */
  health: () => Record<string, string>;
  /** The step queue's waiting and in-flight messages and the DLQ's, when the node can read them. */
  queue?: () => Promise<{ visible: number; inFlight: number; deadLetters: number | null }>;
  /** Response streams open now (event streams, streamed model calls). */
  openStreams: () => number;
};

/** The nearest-rank percentile `q` of `values`. */
function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  if (q === 0.95) return p95(values) ?? null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

/** Latencies one period keeps (a reservoir sample beyond). */
const maxLatencies = 10_000;

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      headers: { [localProbeHeader]: 'dashboard' },
      signal: AbortSignal.timeout(2_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * A local node's dashboard (HLD §9.2): samples the node's signals once a period into a bounded
 * ring of points (the registry's counters as per-period increases, latency percentiles of the
 * requests the fronts answered, health checks, queue depth, open streams) and serves them with
 * the tenant rankings to the page. Who may see it: see {@link dashboardRequest}.
 */
export class NodeDashboard {
  readonly #nodeId: string;
  readonly #sources: DashboardSources;
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #maxPoints: number;
  readonly #points: DashboardPoint[] = [];
  #previous: Partial<Record<CounterKey, number>> | undefined;
  #latencies: number[] = [];
  #seen = 0;
  #failedQueueReads = 0;
  #lastQueueError: string | undefined;
  #health: { api: string; up: boolean | null }[];
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(options: {
    nodeId: string;
    sources: DashboardSources;
    clock: Clock;
    /** One point per period (default 5 s). */
    periodMs?: number;
    /** Points kept (default 180: 15 minutes at 5 s). */
    maxPoints?: number;
  }) {
    this.#nodeId = options.nodeId;
    this.#sources = options.sources;
    this.#clock = options.clock;
    this.#periodMs = options.periodMs ?? 5_000;
    this.#maxPoints = options.maxPoints ?? 180;
    this.#health = [];
  }

  /** Told of every request a front answered: its latency feeds the period's percentiles. */
  readonly observe = (served: ServedRequest): void => {
    // A stream's length is its client's, not a latency (as the alarms read it).
    if (served.streaming) return;
    this.#seen += 1;
    if (this.#latencies.length < maxLatencies) this.#latencies.push(served.latencyMs);
    else {
      const at = Math.floor(Math.random() * this.#seen);
      if (at < maxLatencies) this.#latencies[at] = served.latencyMs;
    }
  };

  async #counters(): Promise<Record<CounterKey, number>> {
    const metrics = await this.#sources.registry.getMetricsAsJSON();
    const byName = new Map(metrics.map((metric) => [metric.name, metric]));
    const values = {} as Record<CounterKey, number>;
    for (const [key, { metric }] of Object.entries(counterSeries) as [CounterKey, { metric: string }][]) {
      const found = byName.get(metric);
      values[key] =
        found?.values
          .filter((value) => (value as { metricName?: string }).metricName === undefined)
          .reduce((sum, value) => sum + value.value, 0) ?? 0;
    }
    return values;
  }

  /** Takes one point: what happened since the previous one. */
  async sample(): Promise<DashboardPoint> {
    const [counters, health, queue] = await Promise.all([
      this.#counters(),
      Promise.all(
        Object.entries(this.#sources.health()).map(async ([api, url]) => ({ api, up: await healthy(url) })),
      ),
      // An unreadable queue is a gap in its chart, counted in `failed_queue_reads`.
      this.#sources.queue?.().catch((error: unknown) => {
        this.#failedQueueReads += 1;
        this.#lastQueueError = error instanceof Error ? error.name : 'error';
        return undefined;
      }),
    ]);
    const previous = this.#previous;
    this.#previous = counters;
    this.#health = health;
    const latencies = this.#latencies;
    this.#latencies = [];
    this.#seen = 0;
    const values: DashboardPoint['values'] = {
      healthy_apis: health.filter((check) => check.up).length,
      latency_p50: percentile(latencies, 0.5),
      latency_p95: percentile(latencies, 0.95),
      latency_p99: percentile(latencies, 0.99),
      queue_visible: queue?.visible ?? null,
      queue_in_flight: queue?.inFlight ?? null,
      dead_letters: queue?.deadLetters ?? null,
      open_streams: this.#sources.openStreams(),
    };
    for (const key of Object.keys(counterSeries) as CounterKey[])
      values[key] = previous === undefined ? null : Math.max(0, counters[key] - (previous[key] ?? 0));
    const point = { t: this.#clock.now(), values };
    this.#points.push(point);
    if (this.#points.length > this.#maxPoints) this.#points.shift();
    return point;
  }

  /** The JSON document the page polls. */
  async data(): Promise<DashboardData> {
    const counters = await this.#counters();
    return {
      node_id: this.#nodeId,
      generated_at: this.#clock.now(),
      period_ms: this.#periodMs,
      health: this.#health,
      totals: totalKeys.map((key) => ({ key, label: counterSeries[key].label, value: counters[key] })),
      panels: dashboardPanels,
      points: [...this.#points],
      tenant_window_ms: this.#sources.tenantWindowMs,
      tenants: this.#sources.tenants.views(),
      failed_queue_reads: this.#failedQueueReads,
      last_queue_error: this.#lastQueueError ?? null,
    };
  }

  /** Samples once a period until {@link stop}; a failed sample is skipped, not fatal. */
  start(onError: (error: unknown) => void = () => undefined): void {
    if (this.#running !== undefined) return;
    const signal = this.#stop.signal;
    this.#running = (async () => {
      await this.sample().catch(onError);
      while (!signal.aborted) {
        await this.#clock.sleep(this.#periodMs, signal);
        if (signal.aborted) return;
        await this.sample().catch(onError);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * Serves the dashboard's page, script, style sheet and data when `path` is one of theirs; `false`
 * for any other path. Who may see it: whoever can reach the node from its own machine, the people
 * who can already read its log. It is answered to loopback clients only, and only under a loopback
 * host name (a page of another site that rebinds a name to 127.0.0.1 is refused), whatever
 * interface the node listens on; the data is global aggregates, as at `GET /metrics`, plus the top
 * tenants' ids and numbers (no other tenant data). Never cached, never framed.
 */
export async function dashboardRequest(
  dashboard: NodeDashboard,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  const served: Record<string, () => Promise<[string, string]>> = {
    [dashboardPaths.page]: () => Promise.resolve(['text/html; charset=utf-8', dashboardHtml]),
    [dashboardPaths.script]: () => Promise.resolve(['text/javascript; charset=utf-8', dashboardScript]),
    [dashboardPaths.style]: () => Promise.resolve(['text/css; charset=utf-8', dashboardCss]),
    [dashboardPaths.icon]: () => Promise.resolve(['image/svg+xml', dashboardIcon]),
    [dashboardPaths.data]: async () => ['application/json', JSON.stringify(await dashboard.data())],
  };
  const serve = served[path];
  if (serve === undefined) return false;
  const security = {
    'content-security-policy': dashboardCsp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
  const host = (request.headers.host ?? '').replace(/:\d+$/, '');
  if (!isLoopbackAddress(request.socket.remoteAddress) || !loopbackHosts.has(host)) {
    response.writeHead(403, { ...security, 'content-type': 'text/plain; charset=utf-8' });
    response.end(
      'The node dashboard is served on the node machine only (http://127.0.0.1:<port>/dashboard).\n',
    );
    return true;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { ...security, allow: 'GET, HEAD' });
    response.end();
    return true;
  }
  const [type, body] = await serve();
  response.writeHead(200, { ...security, 'content-type': type });
  response.end(request.method === 'HEAD' ? undefined : body);
  return true;
}
