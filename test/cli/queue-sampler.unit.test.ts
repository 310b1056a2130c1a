import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { startQueueSampler } from '../../cli/local/queue-sampler.ts';
import { localMetricsRegistry } from '../../functions/shared/observability/local-metrics.ts';

async function gauge(name: string): Promise<number | undefined> {
  const metric = localMetricsRegistry.getSingleMetric(name);
  const values = metric === undefined ? [] : (await metric.get()).values;
  return values.find((value) => value.labels['service'] === 'agent-orchestrator')?.value;
}

/**
 * Samples the queues once through an SQS stand-in that answers each queue's depth from `depths`
 * (a queue missing there does not answer), and returns the errors the sampler told.
 */
async function sampleOnce(
  depths: Record<string, string>,
  deadLetterQueueUrls: string[],
  oldestStepAgeMs: number | null,
): Promise<string[]> {
  const sqs = {
    send(command: unknown) {
      if (!(command instanceof GetQueueAttributesCommand)) throw new Error('unexpected command');
      const depth = depths[command.input.QueueUrl ?? ''];
      if (depth === undefined) return Promise.reject(new Error(`${command.input.QueueUrl} is gone`));
      return Promise.resolve({ Attributes: { ApproximateNumberOfMessages: depth } });
    },
    destroy() {},
  } as unknown as Pick<SQSClient, 'send' | 'destroy'>;
  const errors: string[] = [];
  const sampler = startQueueSampler({
    aws: { region: 'us-east-1', maxAttempts: 1 },
    stepQueueUrl: 'http://steps',
    deadLetterQueueUrls,
    oldestStepAgeMs: () => oldestStepAgeMs,
    onError: (error) => errors.push((error as Error).message),
    sqs,
  });
  await sampler.sample();
  sampler.stop();
  return errors;
}

describe('the local queue sampler', () => {
  it('returns the step queue depth, the oldest held step age and the deepest dead-letter depth on the local /metrics', async () => {
    const depths = { 'http://steps': '7', 'http://dlq': '2', 'http://settlement-dlq': '3' };
    expect(await sampleOnce(depths, ['http://dlq', 'http://settlement-dlq'], 42_000)).toEqual([]);
    expect(await gauge('StepQueueDepth')).toBe(7);
    expect(await gauge('DeadLetterQueueDepth')).toBe(3);
    expect(await gauge('StepQueueOldestAgeSeconds')).toBe(42);
    const text = await localMetricsRegistry.metrics();
    expect(text).toMatch(/^# TYPE StepQueueDepth gauge$/m);
  });

  it('returns the deepest dead-letter depth of the queues that answer, and tells the one that does not', async () => {
    const errors = await sampleOnce(
      { 'http://steps': '1', 'http://dlq': '4' },
      ['http://settlement-dlq', 'http://dlq'],
      null,
    );
    // The sampler samples once as it starts and once more when asked: each time the same queue is gone.
    expect(new Set(errors)).toEqual(new Set(['http://settlement-dlq is gone']));
    expect(await gauge('StepQueueDepth')).toBe(1);
    expect(await gauge('DeadLetterQueueDepth')).toBe(4);
  });
});
