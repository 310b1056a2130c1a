import { randomBytes } from 'node:crypto';
import { awsClientConfig } from '../../functions/shared/aws/client-config.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { provisionNode } from '../../infra/local/provision-emulator.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProvisionedResources } from '../../infra/local/provision-emulator.ts';

/** SDK settings pointing at the test emulator. */
export function testAwsConfig(): AwsClientConfig {
  return awsClientConfig(process.env);
}

/** A node id no other test uses, so each test file gets its own table and queues. */
export function uniqueNodeId(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Provisions a fresh node's resources in the emulator. */
export async function provisionTestNode(
  prefix = 't',
): Promise<{ nodeId: string; resources: ProvisionedResources }> {
  const nodeId = uniqueNodeId(prefix);
  return { nodeId, resources: await provisionNode(nodeId, testAwsConfig()) };
}

/**
 * A document client on the test emulator that sends no client request token, as a write does once
 * the token's ten minutes have passed: only a ledger's own conditions keep a write from applying twice.
 */
export function clientPastTokenWindow(): DynamoDBDocumentClient {
  const client = createDocumentClient(testAwsConfig());
  client.middlewareStack.add(
    (next) => async (args) => {
      delete (args.input as { ClientRequestToken?: string }).ClientRequestToken;
      return next(args);
    },
    { step: 'initialize', name: 'dropClientRequestToken' },
  );
  return client;
}
