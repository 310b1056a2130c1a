import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';

/**
 * A local node started from source wires the settlement queue (HLD §5.3) as the stack does: the
 * Model Policy is told where to send, and the settlement worker polls that queue.
 */
let node: TestNode;

beforeAll(async () => {
  node = await startTestNode();
});

afterAll(async () => {
  await node?.stop();
});

/** Messages of the queue received and not yet deleted or given back. */
async function inFlight(sqs: SQSClient, queueUrl: string): Promise<number> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(answer.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
}

describe('the settlement queue of a local node', () => {
  it('returns the provisioned settlement queue as the Model Policy’s, and the worker receives its messages', async () => {
    const queueUrl = node.resources.settlementQueueUrl;
    expect(process.env[modelPolicyEnv.names.AGENTOS_SETTLEMENT_QUEUE_URL]).toBe(queueUrl);
    // A message the worker cannot read stays on the queue, received: only the node's poller takes it.
    const sqs = new SQSClient(testAwsConfig());
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not a settlement' }));
      let received = 0;
      for (let attempt = 0; attempt < 100 && received === 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        received = await inFlight(sqs, queueUrl);
      }
      expect(received).toBe(1);
    } finally {
      sqs.destroy();
    }
  });
});
