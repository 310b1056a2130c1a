import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { startSqsPoller } from '../../cli/local/sqs-poller.ts';
import type { SqsPollerOptions } from '../../cli/local/sqs-poller.ts';
import { TenantLanes, tenantOfMessage } from '../../cli/local/tenant-lanes.ts';

const step = (tenant: string, id: string, grouped = true): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: JSON.stringify({ kind: 'run.step', run_id: `run-${id}`, step: 1, auth: { tenant_id: tenant } }),
  Attributes: grouped ? { MessageGroupId: tenant } : {},
});

/**
 * An SQS queue in memory for the poller: each receive answers the next scripted batch (a script
 * entry may wait for something first); once the script is spent, receives answer nothing after a
 * short pause, as a long poll would. Deletes and visibility changes are recorded.
 */
function fakeQueue(script: Array<() => Promise<Message[]>>) {
  const deleted: string[] = [];
  const givenBack: string[] = [];
  let receives = 0;
  const waits: number[] = [];
  const sqs = {
    async send(command: unknown) {
      if (command instanceof ReceiveMessageCommand) {
        waits.push(command.input.WaitTimeSeconds ?? 0);
        const next = script[receives];
        receives += 1;
        if (next !== undefined) return { Messages: await next() };
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { Messages: [] };
      }
      if (command instanceof DeleteMessageBatchCommand) {
        deleted.push(...(command.input.Entries ?? []).map((e) => e.ReceiptHandle ?? ''));
        return { Failed: [] };
      }
      if (command instanceof ChangeMessageVisibilityBatchCommand) {
        givenBack.push(...(command.input.Entries ?? []).map((e) => e.ReceiptHandle ?? ''));
        return { Failed: [] };
      }
      throw new Error('unexpected command');
    },
    destroy() {},
  } as unknown as Pick<SQSClient, 'send' | 'destroy'>;
  return { sqs, deleted, givenBack, receives: () => receives, waits };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the pollers of a test reported as failures of the mapping itself: nothing, in every test. */
let errors: unknown[] = [];
afterEach(() => {
  const reported = errors;
  errors = [];
  if (reported.length > 0) throw new Error(`the poller reported failures: ${String(reported)}`);
});

function pollerOptions(
  sqs: Pick<SQSClient, 'send' | 'destroy'>,
  handler: SqsPollerOptions['handler'],
  overrides: Partial<SqsPollerOptions> = {},
): SqsPollerOptions {
  return {
    aws: { region: 'us-east-1', maxAttempts: 1 },
    queueUrl: 'http://queue',
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:steps',
    functionName: 'stepWorker',
    timeoutSeconds: 60,
    handler,
    batchSize: 2,
    concurrency: 1,
    maxWaiting: 8,
    onError: (error) => errors.push(error),
    sqs,
    ...overrides,
  };
}

/**
 * The WaitTimeSeconds of a poller's first five receives from a queue answering `script`, while its
 * handler holds the first batch (so received messages wait for a dispatcher).
 */
async function firstWaitsWhileHeld(script: Array<() => Promise<Message[]>>): Promise<number[]> {
  const release = deferred();
  const { sqs, waits } = fakeQueue(script);
  const poller = startSqsPoller(
    pollerOptions(sqs, async () => {
      await release.promise;
      return { batchItemFailures: [] };
    }),
  );
  while (waits.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
  const seen = waits.slice(0, 5);
  release.resolve();
  await poller.stop();
  return seen;
}

describe('TenantLanes', () => {
  it('returns one item of each waiting tenant before a second of any, each in arrival order', () => {
    const lanes = new TenantLanes<string>();
    for (const item of ['a1', 'a2', 'a3', 'a4']) lanes.push('a', item);
    lanes.push('b', 'b1');
    lanes.push('c', 'c1');
    lanes.push('b', 'b2');
    expect(lanes.take(3)).toEqual(['a1', 'b1', 'c1']);
    expect(lanes.size).toBe(4);
    expect(lanes.take(10)).toEqual(['a2', 'b2', 'a3', 'a4']);
    expect(lanes.take(1)).toEqual([]);
  });
});

describe('tenantOfMessage', () => {
  it('returns the message group id, else the tenant of the Auth Context in the body, else nothing', () => {
    expect(tenantOfMessage(step('acme', '1'))).toBe('acme');
    expect(tenantOfMessage(step('beta', '2', false))).toBe('beta');
    expect(tenantOfMessage({ Body: 'not json' })).toBe('');
  });
});

describe('startSqsPoller', () => {
  it("dispatches a quiet tenant's steps ahead of a noisy tenant's backlog", async () => {
    const firstBatchStarted = deferred();
    const backlogReceived = deferred();
    const { sqs, deleted } = fakeQueue([
      () => Promise.resolve(['1', '2', '3', '4', '5', '6'].map((n) => step('noisy', `n${n}`))),
      async () => {
        await firstBatchStarted.promise;
        return [step('quiet', 'q1', false), step('quiet', 'q2')];
      },
      () => {
        backlogReceived.resolve();
        return Promise.resolve([]);
      },
    ]);
    const batches: string[][] = [];
    const allHandled = deferred();
    const poller = startSqsPoller(
      pollerOptions(sqs, async (event: SQSEvent) => {
        batches.push(event.Records.map((record) => record.messageId));
        if (batches.length === 1) {
          firstBatchStarted.resolve();
          await backlogReceived.promise;
        }
        if (batches.flat().length === 8) allHandled.resolve();
        return { batchItemFailures: [] };
      }),
    );
    await allHandled.promise;
    await poller.stop();
    expect(batches).toEqual([
      ['n1', 'n2'],
      ['n3', 'q1'],
      ['n4', 'q2'],
      ['n5', 'n6'],
    ]);
    expect(deleted).toHaveLength(8);
  });

  it('long-polls once it finds the queue empty, though received messages still wait', async () => {
    const sixMessages = () => Promise.resolve(['1', '2', '3', '4', '5', '6'].map((n) => step('t', n)));
    expect(await firstWaitsWhileHeld([sixMessages])).toEqual([1, 0, 1, 1, 1]);
  });

  it('looks for more at once again after a long poll that brought messages', async () => {
    const sixMessages = () => Promise.resolve(['1', '2', '3', '4', '5', '6'].map((n) => step('t', n)));
    const twoMore = () => Promise.resolve([step('u', '7'), step('u', '8')]);
    expect(await firstWaitsWhileHeld([sixMessages, () => Promise.resolve([]), twoMore])).toEqual([
      1, 0, 1, 0, 1,
    ]);
  });

  it('hands each record its message group id, and keeps the failures the handler reports', async () => {
    const { sqs, deleted } = fakeQueue([() => Promise.resolve([step('acme', 'a1'), step('acme', 'a2')])]);
    const handled = deferred();
    const groups: Array<string | undefined> = [];
    const poller = startSqsPoller(
      pollerOptions(sqs, (event: SQSEvent) => {
        groups.push(...event.Records.map((record) => record.attributes.MessageGroupId));
        handled.resolve();
        return Promise.resolve({ batchItemFailures: [{ itemIdentifier: 'a2' }] });
      }),
    );
    await handled.promise;
    await poller.stop();
    expect(groups).toEqual(['acme', 'acme']);
    expect(deleted).toEqual(['rh-a1']);
  });

  it('makes messages received but not dispatched visible again when it stops', async () => {
    const gate = deferred();
    const started = deferred();
    const { sqs, givenBack } = fakeQueue([
      () => Promise.resolve(['1', '2', '3'].map((n) => step('acme', `a${n}`))),
    ]);
    const journal = new Set<string>();
    const poller = startSqsPoller(
      pollerOptions(
        sqs,
        async () => {
          started.resolve();
          await gate.promise;
          return { batchItemFailures: [] };
        },
        {
          journal: {
            add: (handles) => handles.forEach((h) => journal.add(h)),
            remove: (handles) => handles.forEach((h) => journal.delete(h)),
          },
        },
      ),
    );
    await started.promise;
    const stopped = poller.stop();
    gate.resolve();
    await stopped;
    expect(givenBack).toEqual(['rh-a3']);
    expect([...journal]).toEqual([]);
  });
});

describe('the oldest step message a poller holds', () => {
  it('returns the age of the oldest message received and not yet done, and null once all are done', async () => {
    const sent = (id: string, sentAt: number): Message => ({
      ...step('acme', id),
      Attributes: { MessageGroupId: 'acme', SentTimestamp: String(sentAt) },
    });
    const release = deferred();
    const started = deferred();
    const { sqs, deleted } = fakeQueue([() => Promise.resolve([sent('a1', 1_000), sent('a2', 4_000)])]);
    const poller = startSqsPoller(
      pollerOptions(sqs, async () => {
        started.resolve();
        await release.promise;
        return { batchItemFailures: [] };
      }),
    );
    expect(poller.oldestHeldAgeMs(10_000)).toBeNull();
    await started.promise;
    expect(poller.oldestHeldAgeMs(10_000)).toBe(9_000);
    release.resolve();
    await poller.stop();
    expect(deleted).toEqual(['rh-a1', 'rh-a2']);
    expect(poller.oldestHeldAgeMs(10_000)).toBeNull();
  });
});
