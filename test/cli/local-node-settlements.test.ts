import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelPolicyEnv } from '../../functions/model-policy/composition/model-policy-config.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { settleThroughQueue } from '../support/queued-settlements.ts';

/**
 * A local node started from source wires the settlement queue (HLD §5.3) as the stack does: the
 * Model Policy is told where to send, and the settlement worker polls that queue and writes what
 * it takes to the node's ledger.
 */
let node: TestNode;

beforeAll(async () => {
  node = await startTestNode();
});

afterAll(async () => {
  await node?.stop();
});

describe('the settlement queue of a local node', () => {
  it('returns the provisioned settlement queue as the Model Policy’s, whose worker writes a queued settlement to the ledger', async () => {
    const queueUrl = node.resources.settlementQueueUrl;
    expect(process.env[modelPolicyEnv.names.AGENTOS_SETTLEMENT_QUEUE_URL]).toBe(queueUrl);
    expect(
      await settleThroughQueue(testAwsConfig(), queueUrl, node.resources.tableName, 'queued-tenant'),
    ).toEqual({
      left: 0,
      outcomes: ['failed'],
    });
  });
});
