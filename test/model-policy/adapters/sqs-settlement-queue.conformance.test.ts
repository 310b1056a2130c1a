import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll } from 'vitest';
import { decodeSettlementMessage } from '../../../functions/model-policy/adapters/sqs/settlement-message.ts';
import { SqsSettlementQueue } from '../../../functions/model-policy/adapters/sqs/sqs-settlement-queue.ts';
import type { CallSettlement } from '../../../functions/model-policy/ports/ledger-port.ts';
import { settlementQueuePortConformance } from '../../conformance/settlement-queue-port.case.ts';
import { testAwsConfig } from '../../support/aws.ts';
import { settlementQueueDefinition } from '../../../infra/resources/definitions.ts';

const sqs = new SQSClient(testAwsConfig());
const queues: string[] = [];

afterAll(async () => {
  await Promise.all(queues.map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))));
});

settlementQueuePortConformance('SQS on the emulator', async () => {
  // As large a message as the node's settlement queue takes, said explicitly as the stack says it.
  const created = await sqs.send(
    new CreateQueueCommand({
      QueueName: `settlements-${randomBytes(5).toString('hex')}`,
      Attributes: { MaximumMessageSize: String(settlementQueueDefinition.maxMessageSizeBytes) },
    }),
  );
  const queueUrl = created.QueueUrl ?? '';
  queues.push(queueUrl);
  return {
    port: new SqsSettlementQueue(sqs, queueUrl),
    // What the settlement worker is given: every message, read as the worker reads it.
    async taken() {
      const held: { tenantId: string; settlement: CallSettlement }[] = [];
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) return held;
        held.push(...messages.map((message) => decodeSettlementMessage(message.Body ?? '')));
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle ?? '',
            })),
          }),
        );
      }
    },
  };
});
