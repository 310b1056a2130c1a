import { afterAll, describe, expect, it } from 'vitest';
import {
  DynamoStepAge,
  stepAgeWindowSeconds,
} from '../../functions/orchestrator/adapters/dynamodb/dynamo-step-age.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';
import { ManualClock } from '../support/manual-clock.ts';

/**
 * The step ages the workers note on the node's table (HLD §10.2 backpressure), several workers
 * (processes) at once, over the emulator's DynamoDB. The adapters take the clock, so windows pass
 * without waiting.
 */
const table = provisionTestNode('step-age').then(({ resources }) => resources.tableName);
const client = createDocumentClient(testAwsConfig());
const windowMs = stepAgeWindowSeconds * 1000;

afterAll(() => {
  client.destroy();
});

/** A fresh table's worth of workers sharing one clock. */
async function workers(count: number) {
  const { resources } = await provisionTestNode('step-age');
  const clock = new ManualClock();
  const made = Array.from({ length: count }, () => new DynamoStepAge(client, resources.tableName, { clock }));
  return { clock, made };
}

describe('the step ages noted on DynamoDB', () => {
  it('returns null before any worker noted an age', async () => {
    const reader = new DynamoStepAge(client, await table, { clock: new ManualClock() });
    expect(await reader.oldest()).toEqual({ maxAgeMs: null, windowSeconds: stepAgeWindowSeconds });
  });

  it('returns the largest age any worker noted, a smaller one later never lowering it', async () => {
    const { made } = await workers(3);
    const [a, b, reader] = made as [DynamoStepAge, DynamoStepAge, DynamoStepAge];
    await a.record(1_200);
    await b.record(9_000);
    await a.record(3_000);
    await b.record(40);
    expect((await reader.oldest()).maxAgeMs).toBe(9_000);
  });

  it('returns the previous window’s largest age in the next window, and forgets it the window after', async () => {
    const { clock, made } = await workers(2);
    const [worker, reader] = made as [DynamoStepAge, DynamoStepAge];
    await worker.record(7_000);
    clock.advance(windowMs);
    await worker.record(500);
    expect((await reader.oldest()).maxAgeMs).toBe(7_000);
    clock.advance(windowMs);
    expect((await reader.oldest()).maxAgeMs).toBe(500);
    clock.advance(windowMs);
    expect((await reader.oldest()).maxAgeMs).toBeNull();
  });
});
