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

describe('the local queue sampler', () => {
  it('returns the step queue depth, the oldest held step age and the deepest dead-letter depth on the local /metrics', async () => {
    const depths: Record<string, string> = {
      'http://steps': '7',
      'http://dlq': '2',
      'http://settlement-dlq': '3',
    };
    const sqs = {
      send(command: unknown) {
        if (!(command instanceof GetQueueAttributesCommand)) throw new Error('unexpected command');
        return Promise.resolve({
          Attributes: { ApproximateNumberOfMessages: depths[command.input.QueueUrl ?? ''] },
        });
      },
      destroy() {},
    } as unknown as Pick<SQSClient, 'send' | 'destroy'>;
    const errors: unknown[] = [];
    const sampler = startQueueSampler({
      aws: { region: 'us-east-1', maxAttempts: 1 },
      stepQueueUrl: 'http://steps',
      deadLetterQueueUrls: ['http://dlq', 'http://settlement-dlq'],
      oldestStepAgeMs: () => 42_000,
      onError: (error) => errors.push(error),
      sqs,
    });
    await sampler.sample();
    sampler.stop();
    expect(errors).toEqual([]);
    expect(await gauge('StepQueueDepth')).toBe(7);
    expect(await gauge('DeadLetterQueueDepth')).toBe(3);
    expect(await gauge('StepQueueOldestAgeSeconds')).toBe(42);
    const text = await localMetricsRegistry.metrics();
    expect(text).toMatch(/^# TYPE StepQueueDepth gauge$/m);
  });
  it('returns the deepest dead-letter depth of the queues that answer, and tells the one that does not', async () => {
    const sqs = {
      send(command: unknown) {
        if (!(command instanceof GetQueueAttributesCommand)) throw new Error('unexpected command');
        if (command.input.QueueUrl === 'http://settlement-dlq') return Promise.reject(new Error('gone'));
        return Promise.resolve({
          Attributes: { ApproximateNumberOfMessages: command.input.QueueUrl === 'http://dlq' ? '4' : '1' },
        });
      },
      destroy() {},
    } as unknown as Pick<SQSClient, 'send' | 'destroy'>;
    const errors: unknown[] = [];
    const sampler = startQueueSampler({
      aws: { region: 'us-east-1', maxAttempts: 1 },
      stepQueueUrl: 'http://steps',
      deadLetterQueueUrls: ['http://settlement-dlq', 'http://dlq'],
      oldestStepAgeMs: () => null,
      onError: (error) => errors.push(error),
      sqs,
    });
    await sampler.sample();
    sampler.stop();
    // The sampler samples once as it starts and once more here: each time the same queue is gone.
    expect(new Set(errors.map((error) => (error as Error).message))).toEqual(new Set(['gone']));
    expect(await gauge('StepQueueDepth')).toBe(1);
    expect(await gauge('DeadLetterQueueDepth')).toBe(4);
  });
});
