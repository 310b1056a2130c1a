import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import type { EmulatorHandle } from '../../cli/local/emulator.ts';

/**
 * The launcher's sends and receives read their queue's attributes without counting its messages
 * (cli/local/moto_serialized_server.py, point 12): a FIFO queue still drops a duplicate by its
 * content, messages still go out and come back, and GetQueueAttributes still counts them.
 */
let emulator: EmulatorHandle;
let sqs: SQSClient;

beforeAll(async () => {
  emulator = await startMoto();
  sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: emulator.endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

afterAll(async () => {
  sqs.destroy();
  await emulator.stop();
});

async function counts(queueUrl: string): Promise<Record<string, string | undefined>> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return { ...Attributes };
}

describe('the emulator launcher', () => {
  it('drops a FIFO message whose content was sent before, and counts what the queue holds', async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'steps.fifo',
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    );
    const queueUrl = QueueUrl!;
    for (const body of ['one', 'two', 'one'])
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: body }));
    expect(await counts(queueUrl)).toEqual({
      ApproximateNumberOfMessages: '2',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });

    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
    );
    expect(Messages?.map((message) => message.Body).sort()).toEqual(['one', 'two']);
    expect(await counts(queueUrl)).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '2',
      ApproximateNumberOfMessagesDelayed: '0',
    });

    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: Messages![0]!.ReceiptHandle! }),
    );
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: Messages![1]!.ReceiptHandle!,
        VisibilityTimeout: 0,
      }),
    );
    expect(await counts(queueUrl)).toEqual({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });
  });

  it('returns every message of a standard queue, delayed ones once their delay is over', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'plain' }));
    const queueUrl = QueueUrl!;
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'now' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'now' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later', DelaySeconds: 5 }));
    expect(await counts(queueUrl)).toEqual({
      ApproximateNumberOfMessages: '2',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '1',
    });
    const bodies: string[] = [];
    const deadline = Date.now() + 20_000;
    while (bodies.length < 3 && Date.now() < deadline) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      bodies.push(...(Messages ?? []).map((message) => message.Body!));
    }
    expect(bodies.sort()).toEqual(['later', 'now', 'now']);
  });
});
