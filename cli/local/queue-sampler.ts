import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { mirrorMetric } from '../../functions/shared/observability/local-metrics.ts';
import { metricDefinitions } from '../../functions/shared/observability/metric-definitions.ts';
import { deepestQueue, queueCount } from './queue-depths.ts';

/** Settings of {@link startQueueSampler}. */
export type QueueSamplerOptions = {
  aws: AwsClientConfig;
  stepQueueUrl: string;
  /** The node's DLQs (the step queue's, the settlement queue's): the gauge is the deepest. */
  deadLetterQueueUrls: readonly string[];
  /** The oldest step message's age the step poller holds, ms (null: none). */
  oldestStepAgeMs: () => number | null;
  /** How often to sample; 5 s when absent. */
  intervalMs?: number;
  /** Told about a sample that failed (the gauges then keep their last values). */
  onError: (error: unknown) => void;
  /** The SQS client to ask (tests pass a fake); one built from `aws` when absent. */
  sqs?: Pick<SQSClient, 'send' | 'destroy'>;
};

/** A running sampler; `sample` takes one sample at once (also what each tick does). */
export type QueueSampler = { sample(): Promise<void>; stop(): void };

/**
 * Publishes the step queue's depth, its oldest message's age and the deepest dead-letter queue's depth as
 * gauges of the local `/metrics` (HLD §9.1): on AWS the alarms and dashboard read SQS's own metrics
 * (`AWS/SQS`), which a local emulator does not publish, so a local node samples GetQueueAttributes.
 */
export function startQueueSampler(options: QueueSamplerOptions): QueueSampler {
  const sqs =
    options.sqs ??
    new SQSClient({
      ...options.aws,
      requestHandler: options.aws.requestHandler ?? {
        connectionTimeout: 1_000,
        requestTimeout: 3_000,
        throwOnRequestTimeout: true,
      },
    });
  const gauge = (name: keyof typeof metricDefinitions, value: number) =>
    mirrorMetric('agent-orchestrator', name, metricDefinitions[name].unit, value);
  let running: Promise<void> | undefined;
  async function sample(): Promise<void> {
    const [depth, deadLettered] = await Promise.all([
      queueCount(sqs, options.stepQueueUrl, ['ApproximateNumberOfMessages']),
      // A DLQ that does not answer is told to onError and hides nothing the other one shows; with
      // none answering the gauge keeps its last value.
      deepestQueue(sqs, options.deadLetterQueueUrls, (_url, error) => options.onError(error)),
    ]);
    gauge('StepQueueDepth', depth);
    if (deadLettered !== null) gauge('DeadLetterQueueDepth', deadLettered);
    gauge('StepQueueOldestAgeSeconds', Math.round((options.oldestStepAgeMs() ?? 0) / 1000));
  }
  const tick = () => {
    // One sample at a time: a slow emulator does not pile samples up.
    running ??= sample()
      .catch(options.onError)
      .finally(() => {
        running = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 5_000);
  timer.unref();
  return {
    sample,
    stop() {
      clearInterval(timer);
      sqs.destroy();
    },
  };
}
