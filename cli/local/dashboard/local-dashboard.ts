import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from '../../../functions/shared/aws/client-config.ts';
import { localMetricsRegistry } from '../../../functions/shared/observability/local-metrics.ts';
import {
  installLocalTenantTop,
  LocalTenantTop,
} from '../../../functions/shared/observability/local-tenant-top.ts';
import { systemClock } from '../../../functions/shared/timing/clock.ts';
import type { Clock } from '../../../functions/shared/timing/clock.ts';
import { resourceNames } from '../../../infra/resources/definitions.ts';
import type { HttpFront, LocalPages, ServedRequest } from '../lambda-http-front.ts';
import { deepestQueue } from '../queue-depths.ts';
import { dashboardRequest, NodeDashboard } from './node-dashboard.ts';

/** The dashboard of one local node process, and what its fronts need to feed and serve it. */
export type LocalDashboard = {
  dashboard: NodeDashboard;
  /** Given to each front: serves the dashboard's paths. */
  localPages: LocalPages;
  /** Given to each front: every answered request's latency. */
  observe: (served: ServedRequest) => void;
  /** Adds a started front: its health URL and its open streams are watched. */
  addFront(api: string, front: HttpFront): void;
  stop(): Promise<void>;
};

/** The step queue's DLQ URL, named as infra/resources/definitions.ts names it beside the queue. */
export function deadLetterQueueUrlOf(stepQueueUrl: string): string | undefined {
  const name = /\/agentos-([a-z0-9-]{1,32})-steps$/.exec(stepQueueUrl)?.[1];
  if (name === undefined) return undefined;
  return stepQueueUrl.replace(/[^/]+$/, resourceNames(name).stepDeadLetterQueue);
}

/**
 * Starts a local node process's dashboard (HLD §9.2): installs the process's tenant rankings (the
 * services' log events feed them), and samples the node's signals once a period. One per process:
 * the rankings are the process's.
 */
export function startLocalDashboard(options: {
  nodeId: string;
  aws: AwsClientConfig;
  stepQueueUrl: string;
  /** The node's DLQs, the step queue's and the settlement queue's; the step queue's DLQ alone, named beside it, when absent. */
  deadLetterQueueUrls?: readonly string[] | undefined;
  clock?: Clock;
  periodMs?: number;
}): LocalDashboard {
  const clock = options.clock ?? systemClock;
  const tenantWindowMs = 15 * 60_000;
  const tenants = new LocalTenantTop({ clock, windowMs: tenantWindowMs });
  installLocalTenantTop(tenants);
  const fronts = new Map<string, HttpFront>();
  const sqs = new SQSClient({
    ...options.aws,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  });
  const depth = async (
    url: string,
    names: ('ApproximateNumberOfMessages' | 'ApproximateNumberOfMessagesNotVisible')[],
  ) => {
    const answer = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }));
    return names.map((name) => Number(answer.Attributes?.[name] ?? 0));
  };
  const derived = deadLetterQueueUrlOf(options.stepQueueUrl);
  const deadLetters = options.deadLetterQueueUrls ?? (derived === undefined ? [] : [derived]);
  const dashboard = new NodeDashboard({
    nodeId: options.nodeId,
    clock,
    ...(options.periodMs === undefined ? {} : { periodMs: options.periodMs }),
    sources: {
      registry: localMetricsRegistry,
      tenants,
      tenantWindowMs,
      health: () => Object.fromEntries([...fronts].map(([api, front]) => [api, `${front.url}/v1/health`])),
      openStreams: () => [...fronts.values()].reduce((sum, front) => sum + (front.openStreams?.() ?? 0), 0),
      queue: async () => {
        const [[visible = 0, inFlight = 0], dead] = await Promise.all([
          depth(options.stepQueueUrl, [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
          ]),
          // The deepest DLQ, as the dlq_not_empty alarm reads them.
          deepestQueue(sqs, deadLetters, (url, error) =>
            console.error(
              JSON.stringify({
                level: 'WARN',
                message: 'dashboard DLQ read failed',
                queue_url: url,
                error: String(error),
              }),
            ),
          ),
        ]);
        return { visible, inFlight, deadLetters: dead };
      },
    },
  });
  dashboard.start((error) =>
    console.error(
      JSON.stringify({ level: 'WARN', message: 'dashboard sample failed', error: String(error) }),
    ),
  );
  return {
    dashboard,
    localPages: (request, response, path) => dashboardRequest(dashboard, request, response, path),
    observe: dashboard.observe,
    addFront: (api, front) => fronts.set(api, front),
    async stop() {
      await dashboard.stop();
      installLocalTenantTop(undefined);
      sqs.destroy();
    },
  };
}
