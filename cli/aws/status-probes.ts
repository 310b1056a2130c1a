import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import type { CheckRecord, Outcome } from '../reports/operator-report.ts';
import { awsErrorInfo, describeAwsError } from './preflight-aws-errors.ts';
import { awsCliCommand, maskIdentifiers } from './preflight-text.ts';
import { readMetrics } from './status-metrics.ts';
import type { MetricSeries } from './status-metrics.ts';
import { describeStack, restApiNames, stackNeedsAction } from './status-stack.ts';
import type { StackState } from './status-stack.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

export type { StackState } from './status-stack.ts';

/**
 * One status probe: how it ended, what it found in words, and the finding itself when the probe got
 * an answer (`value` may come with `failed` when the answer is itself bad news, e.g. a non-empty DLQ).
 */
export type Probe<T> = { outcome: Outcome; detail: string; duration_ms: number; value?: T };

/** A probe's finding before it is timed. */
type Finding<T> = Omit<Probe<T>, 'duration_ms'>;

async function timed<T>(work: () => Promise<Finding<T>>): Promise<Probe<T>> {
  const started = Date.now();
  const finding = await work();
  return { ...finding, duration_ms: Date.now() - started };
}

/** A metric's latest reading, or the honest absence of one. */
export type MetricReading = { value: number; at: string } | 'no datapoints';

/** A queue's depth: messages waiting, messages being worked on, and how long the oldest has waited. */
export type QueueDepth = {
  queueName: string;
  visible: number;
  inFlight: number;
  /** CloudWatch's `ApproximateAgeOfOldestMessage` (seconds), its latest one-minute maximum. */
  oldestMessageAgeSeconds: MetricReading;
};

/** An API's 5xx answers (API Gateway's `5XXError`), summed over recent windows. */
export type ApiErrorCounts = {
  apiName: string;
  /** Undefined: no datapoints in the window (no traffic, or no metrics recorded). */
  last15Minutes?: number;
  last60Minutes?: number;
};

/** What `agentos status` shows of an AWS (or emulator) deployment. */
export type StatusProbes = {
  stackName: string;
  stack: Probe<StackState>;
  /** The stack's API base URLs by output key (`OrchestratorApiUrl`, `ModelPolicyApiUrl`). */
  endpoints: Record<string, string>;
  stepQueue: Probe<QueueDepth>;
  deadLetterQueue: Probe<QueueDepth>;
  /** The settlement queue's dead-letter queue (HLD §5.3); skipped on a stack deployed before it. */
  settlementDeadLetterQueue: Probe<QueueDepth>;
  apiErrors: Probe<ApiErrorCounts[]>;
  /** The probes as report checks, in the order above. */
  checks: CheckRecord[];
};

export type StatusProbeOptions = {
  /** The environment SDK clients are configured from (emulator keys); `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** The clock metric windows end at. */
  now?: () => Date;
};

/** The stack outputs holding the queues' URLs (infra/stacks/agentos-node-stack.ts). */
const queueOutputs = {
  stepQueue: 'StepQueueUrl',
  deadLetterQueue: 'StepDeadLetterQueueUrl',
  settlementDeadLetterQueue: 'SettlementDeadLetterQueueUrl',
} as const;

/** What a dead-letter queue's messages are, in the probe's words; absent for a queue that is not one. */
const deadLettered: Partial<Record<keyof typeof queueOutputs, string>> = {
  deadLetterQueue: 'steps',
  settlementDeadLetterQueue: 'model call settlements (usage not yet counted)',
};

const minute = 60_000;

const QueueAttributesSchema = z.object({
  Attributes: z.object({
    ApproximateNumberOfMessages: z.coerce.number().int().nonnegative(),
    ApproximateNumberOfMessagesNotVisible: z.coerce.number().int().nonnegative(),
  }),
});

function failure(what: string, error: unknown): Finding<never> {
  return { outcome: 'failed', detail: `${what}: ${maskIdentifiers(describeAwsError(awsErrorInfo(error)))}` };
}

function latest(series: MetricSeries): MetricReading {
  const last = series.at(-1);
  return last === undefined ? 'no datapoints' : { value: last.value, at: last.at.toISOString() };
}

function sumSince(series: MetricSeries, since: Date): number | undefined {
  const points = series.filter((point) => point.at.getTime() >= since.getTime());
  return points.length === 0 ? undefined : points.reduce((total, point) => total + point.value, 0);
}

function stackProbe(target: RemoteTarget, stackName: string, state: StackState): Finding<StackState> {
  if (!state.deployed)
    return {
      outcome: 'failed',
      value: state,
      detail: `not deployed: there is no stack ${stackName} in ${target.region}; deploy the node first`,
    };
  const reason = state.reason === undefined ? '' : ` (${maskIdentifiers(state.reason)})`;
  if (state.status === 'ROLLBACK_COMPLETE')
    return {
      outcome: 'failed',
      value: state,
      detail: `${state.status}${reason}: the first deploy failed and was rolled back; delete the stack (${awsCliCommand(target, 'cloudformation', 'delete-stack', '--stack-name', stackName)}) and deploy again`,
    };
  return {
    outcome: stackNeedsAction(state.status) ? 'failed' : 'ok',
    value: state,
    detail: `${state.status}${reason}`,
  };
}

async function queueProbe(
  sqs: SQSClient,
  cloudWatch: CloudWatchClient,
  queueUrl: string,
  window: { from: Date; to: Date },
  deadLetters: string | undefined,
): Promise<Finding<QueueDepth>> {
  const queueName = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  let attributes: z.infer<typeof QueueAttributesSchema>['Attributes'];
  try {
    attributes = QueueAttributesSchema.parse(
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      ),
    ).Attributes;
  } catch (error) {
    return failure(`cannot read ${queueName}'s depth`, error);
  }
  const depth = {
    queueName,
    visible: attributes.ApproximateNumberOfMessages,
    inFlight: attributes.ApproximateNumberOfMessagesNotVisible,
  };
  let age: MetricReading;
  try {
    const [series] = await readMetrics(
      cloudWatch,
      [
        {
          namespace: 'AWS/SQS',
          metricName: 'ApproximateAgeOfOldestMessage',
          dimensions: { QueueName: queueName },
          stat: 'Maximum',
        },
      ],
      window.from,
      window.to,
    );
    age = latest(series ?? []);
  } catch (error) {
    const failed = failure(
      `${queueName}: ${depth.visible} waiting, ${depth.inFlight} in flight; cannot read the age of its oldest message`,
      error,
    );
    return { ...failed, value: { ...depth, oldestMessageAgeSeconds: 'no datapoints' } };
  }
  const value = { ...depth, oldestMessageAgeSeconds: age };
  const ageText =
    age === 'no datapoints'
      ? 'oldest message age: no datapoints in the last 15 min'
      : `oldest message ${age.value} s old (at ${age.at})`;
  const detail = `${queueName}: ${depth.visible} waiting, ${depth.inFlight} in flight; ${ageText}`;
  // Messages in a DLQ failed every delivery: an operator must look at them.
  if (deadLetters !== undefined && depth.visible + depth.inFlight > 0)
    return {
      outcome: 'failed',
      value,
      detail: `${detail} (${deadLetters} that failed every delivery; inspect them before redriving)`,
    };
  return { outcome: 'ok', value, detail };
}

async function apiErrorsProbe(
  cloudFormation: CloudFormationClient,
  cloudWatch: CloudWatchClient,
  stackName: string,
  now: Date,
): Promise<Finding<ApiErrorCounts[]>> {
  let apis: { named: string[]; unnamed: string[] };
  try {
    apis = await restApiNames(cloudFormation, stackName);
  } catch (error) {
    return failure(`cannot read the REST APIs of ${stackName}`, error);
  }
  if (apis.named.length === 0 && apis.unnamed.length === 0)
    return { outcome: 'skipped', value: [], detail: `${stackName} has no REST APIs` };
  let series: MetricSeries[];
  try {
    series = await readMetrics(
      cloudWatch,
      apis.named.map((apiName) => ({
        namespace: 'AWS/ApiGateway',
        metricName: '5XXError',
        dimensions: { ApiName: apiName },
        stat: 'Sum',
      })),
      new Date(now.getTime() - 60 * minute),
      now,
    );
  } catch (error) {
    return failure("cannot read the APIs' 5XXError metrics", error);
  }
  const since15 = new Date(now.getTime() - 15 * minute);
  const value = apis.named.map((apiName, index): ApiErrorCounts => {
    const points = series[index] ?? [];
    const last15Minutes = sumSince(points, since15);
    const last60Minutes = sumSince(points, new Date(now.getTime() - 60 * minute));
    return {
      apiName,
      ...(last15Minutes === undefined ? {} : { last15Minutes }),
      ...(last60Minutes === undefined ? {} : { last60Minutes }),
    };
  });
  const described = value.map((api) =>
    api.last60Minutes === undefined
      ? `${api.apiName}: no datapoints in the last 60 min`
      : `${api.apiName}: ${api.last15Minutes ?? 0} in the last 15 min, ${api.last60Minutes} in the last 60 min`,
  );
  const unnamed = apis.unnamed.map(
    (id) => `${id}: its name is set at deploy time, so its metrics cannot be found`,
  );
  return {
    outcome: unnamed.length === 0 ? 'ok' : 'failed',
    value,
    detail: [...described, ...unnamed].join('; '),
  };
}

/**
 * Probes a deployed node for `agentos status`: the stack's status and outputs, the step queue's, its
 * DLQ's and the settlement DLQ's depth and oldest message age, and each REST API's recent 5xx count.
 * A missing stack is reported as "not deployed" and the other probes are skipped; a probe that
 * fails says why, and the others still run. Metrics with no datapoints are reported as such, never
 * as zero.
 */
export async function probeStatus(
  target: RemoteTarget,
  stackName: string,
  options: StatusProbeOptions = {},
): Promise<StatusProbes> {
  const config = operatorClientConfig(target, options.env);
  const cloudFormation = new CloudFormationClient(config);
  const cloudWatch = new CloudWatchClient(config);
  const sqs = new SQSClient(config);
  try {
    const stack = await timed(async () => {
      try {
        return stackProbe(target, stackName, await describeStack(cloudFormation, stackName));
      } catch (error) {
        return failure(`cannot describe ${stackName}`, error);
      }
    });
    const state = stack.value;
    if (state === undefined || !state.deployed) {
      const reason = state === undefined ? 'the stack could not be described' : 'the stack is not deployed';
      const skipped = { outcome: 'skipped', detail: reason, duration_ms: 0 } as const;
      return assemble(
        stackName,
        stack,
        {},
        {
          stepQueue: skipped,
          deadLetterQueue: skipped,
          settlementDeadLetterQueue: skipped,
          apiErrors: skipped,
        },
      );
    }
    const now = (options.now ?? (() => new Date()))();
    const window = { from: new Date(now.getTime() - 15 * minute), to: now };
    const queue = (key: keyof typeof queueOutputs): Promise<Probe<QueueDepth>> =>
      timed(async () => {
        const url = state.outputs[queueOutputs[key]];
        if (url !== undefined) return queueProbe(sqs, cloudWatch, url, window, deadLettered[key]);
        // A stack deployed before the settlement queue has none; every node stack has the others.
        return key === 'settlementDeadLetterQueue'
          ? { outcome: 'skipped', detail: `${stackName} has no ${queueOutputs[key]} output` }
          : { outcome: 'failed', detail: `${stackName} has no ${queueOutputs[key]} output` };
      });
    const [stepQueue, deadLetterQueue, settlementDeadLetterQueue, apiErrors] = await Promise.all([
      queue('stepQueue'),
      queue('deadLetterQueue'),
      queue('settlementDeadLetterQueue'),
      timed(() => apiErrorsProbe(cloudFormation, cloudWatch, stackName, now)),
    ]);
    const endpoints = Object.fromEntries(
      Object.entries(state.outputs).filter(([key]) => key.endsWith('ApiUrl')),
    );
    return assemble(stackName, stack, endpoints, {
      stepQueue,
      deadLetterQueue,
      settlementDeadLetterQueue,
      apiErrors,
    });
  } finally {
    cloudFormation.destroy();
    cloudWatch.destroy();
    sqs.destroy();
  }
}

function assemble(
  stackName: string,
  stack: Probe<StackState>,
  endpoints: Record<string, string>,
  probes: Pick<StatusProbes, 'stepQueue' | 'deadLetterQueue' | 'settlementDeadLetterQueue' | 'apiErrors'>,
): StatusProbes {
  const { stepQueue, deadLetterQueue, settlementDeadLetterQueue, apiErrors } = probes;
  const check = (name: string, probe: Probe<unknown>): CheckRecord => ({
    name,
    outcome: probe.outcome,
    duration_ms: probe.duration_ms,
    detail: probe.detail,
  });
  return {
    stackName,
    stack,
    endpoints,
    stepQueue,
    deadLetterQueue,
    settlementDeadLetterQueue,
    apiErrors,
    checks: [
      check('stack', stack),
      check('step queue', stepQueue),
      check('step dead-letter queue', deadLetterQueue),
      check('settlement dead-letter queue', settlementDeadLetterQueue),
      check('api 5xx', apiErrors),
    ],
  };
}
