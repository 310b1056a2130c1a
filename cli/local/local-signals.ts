import { open } from 'node:fs/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { healthRoute } from '../../functions/shared/http/health-route.ts';
import type { AlarmSample, SignalSource } from './alarm-evaluator.ts';
import { localProbeHeader } from './lambda-http-front.ts';
import { deepestQueue, QueueHold } from './queue-depths.ts';

/** What one period of the node log says, counted from the structured lines the node writes. */
export type LogCounts = {
  requests: number;
  serverErrors: number;
  /** Latencies of buffered responses, ms (streams are excluded: their length is the client's). */
  latenciesMs: number[];
  modelCallsFailed: number;
  storageThrottles: number;
  /** Tenant id → model calls refused for its budget. */
  budgetRefusals: Map<string, number>;
};

/** The most of the node log one period reads: a log growing faster is sampled, not read whole. */
const maxReadBytes = 8 * 1024 * 1024;
/** Latencies one period keeps for its p95. */
const maxLatencies = 100_000;
/** Tenants one period tracks budget refusals of. */
const maxTenants = 1_000;

const throttleMarkers = [
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'Item size has exceeded',
  'TooManyRequestsException',
];

/** Counts the node log's lines that the local alarms read (HLD §9.1 structured logs). */
export function countLogLines(lines: Iterable<string>): LogCounts {
  const counts: LogCounts = {
    requests: 0,
    serverErrors: 0,
    latenciesMs: [],
    modelCallsFailed: 0,
    storageThrottles: 0,
    budgetRefusals: new Map(),
  };
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    if (throttleMarkers.some((marker) => line.includes(marker))) counts.storageThrottles += 1;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const message = entry['message'];
    // Health checks are the service_down alarm's signal, not client traffic: they would dilute the
    // error rate (the node's own probes are not logged by the front at all).
    if (message === 'request served' && entry['operation'] !== healthRoute.operationId) {
      counts.requests += 1;
      const status = Number(entry['status']);
      if (status >= 500) counts.serverErrors += 1;
      const latency = entry['latency_ms'];
      if (
        entry['streaming'] !== true &&
        typeof latency === 'number' &&
        counts.latenciesMs.length < maxLatencies
      )
        counts.latenciesMs.push(latency);
    } else if (message === 'no model backend answered') {
      counts.modelCallsFailed += 1;
    } else if (message === 'request rejected' && entry['error_code'] === 'budget_exceeded') {
      const tenant = typeof entry['tenant_id'] === 'string' ? entry['tenant_id'] : 'unknown';
      if (counts.budgetRefusals.has(tenant) || counts.budgetRefusals.size < maxTenants)
        counts.budgetRefusals.set(tenant, (counts.budgetRefusals.get(tenant) ?? 0) + 1);
    }
  }
  return counts;
}

/** The 95th percentile (nearest rank) of `values`; `undefined` for none. */
export function p95(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

/** Reads what a log file gained since the last call (from its end at the first call). */
export class LogTail {
  readonly #file: string;
  #offset: number | undefined;
  #rest = '';

  constructor(file: string, options: { fromStart?: boolean } = {}) {
    this.#file = file;
    if (options.fromStart === true) this.#offset = 0;
  }

  async lines(): Promise<string[]> {
    let handle;
    try {
      handle = await open(this.#file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const { size } = await handle.stat();
      // A truncated or replaced log starts over.
      if (this.#offset === undefined || size < this.#offset) {
        this.#offset = this.#offset === undefined ? size : 0;
        this.#rest = '';
      }
      const start = Math.max(this.#offset, size - maxReadBytes);
      // Bytes skipped (a burst past the read bound) break the partial line carried over.
      const carried = start === this.#offset ? this.#rest : '';
      const length = size - start;
      if (length <= 0) return [];
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, start);
      this.#offset = size;
      const text = carried + buffer.toString('utf8');
      const lines = text.split('\n');
      this.#rest = lines.pop() ?? '';
      return lines;
    } finally {
      await handle.close();
    }
  }
}

/** A health check's answer: whether it succeeded. */
async function healthy(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, {
      headers: { [localProbeHeader]: 'alerts' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Where a local node's signals are. */
export type LocalSignalSettings = {
  /** The node process's log: its structured lines (requests served, failures). */
  nodeLog: string;
  /** The health URLs of the node's APIs. */
  healthUrls: string[];
  aws: AwsClientConfig;
  /**
   * The node's dead-letter queues (the step queue's, the settlement queue's): `dlq_not_empty` reads
   * the deepest, as the stack's alarm does.
   */
  deadLetterQueueUrls: readonly string[];
  /**
   * The oldest step message age the node's capacity report gives, in seconds (null: none lately).
   * `queue_backlog` reads the older of it and the settlement queue's hold; with neither given it has
   * no sample.
   */
  oldestStepAgeSeconds?: () => Promise<number | null>;
  /**
   * The node's settlement queue (HLD §5.3): `queue_backlog` reads how long it has held messages
   * ({@link QueueHold}) beside the oldest step age, as the stack's alarm reads both queues' age.
   */
  settlementQueueUrl?: string;
  /** The clock that times how long the settlement queue has held messages; the real one by default. */
  nowMs?: () => number;
  /** Told about a signal that could not be read this period; its sample is then "no data". */
  onReadError: (signal: string, error: unknown) => void;
  /** The budget of one health check, ms. */
  healthTimeoutMs?: number;
};

/**
 * The local node's signals, one period per `read` (HLD §9.3 over a local node): health checks of
 * its APIs, the lines its process logged since the last period (requests with status and latency,
 * model calls no backend answered, storage throttles, budget refusals per tenant), the DLQs' depth,
 * the capacity report's oldest step age and the settlement queue's hold. The same alarm ids the
 * deployed stack's CloudWatch alarms carry; on AWS the metrics come from CloudWatch instead.
 */
export function localSignalSource(settings: LocalSignalSettings): SignalSource & { close(): void } {
  const tail = new LogTail(settings.nodeLog);
  const sqs = new SQSClient({
    ...settings.aws,
    requestHandler: settings.aws.requestHandler ?? {
      connectionTimeout: 1_000,
      requestTimeout: 3_000,
      throwOnRequestTimeout: true,
    },
  });
  const { onReadError } = settings;
  const settlementsHeld =
    settings.settlementQueueUrl === undefined
      ? undefined
      : new QueueHold(sqs, settings.settlementQueueUrl, settings.nowMs ?? Date.now);
  /** A signal's value, or null (no data) when it cannot be read, which is told to `onReadError`. */
  const readOrNull = async (signal: string, read: () => Promise<number | null>) => {
    try {
      return await read();
    } catch (error) {
      onReadError(signal, error);
      return null;
    }
  };
  return {
    close: () => sqs.destroy(),
    async read(): Promise<AlarmSample[]> {
      const checks = await Promise.all(
        settings.healthUrls.map((url) => healthy(url, settings.healthTimeoutMs ?? 3_000)),
      );
      const counts = countLogLines(await tail.lines());
      const samples: AlarmSample[] = [
        // The alarm reads the least healthy API: any one down is the service down.
        { alarmId: 'service_down', value: checks.every(Boolean) ? 1 : 0 },
        {
          alarmId: 'high_error_rate',
          value: counts.requests === 0 ? undefined : (100 * counts.serverErrors) / counts.requests,
        },
        { alarmId: 'p95_latency_high', value: p95(counts.latenciesMs) },
        { alarmId: 'model_backend_unreachable', value: counts.modelCallsFailed },
        { alarmId: 'storage_or_concurrency_exhausted', value: counts.storageThrottles },
        ...[...counts.budgetRefusals].map(([tenantId, refusals]) => ({
          alarmId: 'tenant_budget_exceeded' as const,
          value: refusals,
          tenantId,
        })),
      ];
      // With no DLQ answering, the service_down check says whether the node is reachable.
      const deepest = await deepestQueue(sqs, settings.deadLetterQueueUrls, (url, error) =>
        onReadError(`dead-letter queue ${url}`, error),
      );
      samples.push({ alarmId: 'dlq_not_empty', value: deepest ?? undefined });
      if (settings.oldestStepAgeSeconds !== undefined || settlementsHeld !== undefined) {
        const ages = [
          settings.oldestStepAgeSeconds === undefined
            ? null
            : await readOrNull('oldest step age', settings.oldestStepAgeSeconds),
          settlementsHeld === undefined
            ? null
            : await readOrNull('settlement queue', () => settlementsHeld.secondsHeld()),
        ].filter((age) => age !== null);
        samples.push({ alarmId: 'queue_backlog', value: ages.length === 0 ? undefined : Math.max(...ages) });
      }
      return samples;
    },
  };
}
