import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClientConfig } from '../aws/client-config.ts';
import { countStorageRefusals, tracedClient } from '../aws/instrumented-clients.ts';
import type { AwsClientTracer } from '../aws/instrumented-clients.ts';

/** How a service observes its table client (HLD §9.1); tooling passes nothing. */
export type DocumentClientObservation = {
  /** Records the client's calls as X-Ray subsegments when tracing is on. */
  tracer?: AwsClientTracer;
  /** Called for every attempt DynamoDB refuses for throughput or item size (`StorageThrottles`). */
  onStorageRefusal?: () => void;
};

/** A DynamoDB document client; create one per process and share it across requests. */
export function createDocumentClient(
  config: AwsClientConfig,
  observation: DocumentClientObservation = {},
): DynamoDBDocumentClient {
  const client = new DynamoDBClient(config);
  if (observation.onStorageRefusal !== undefined) countStorageRefusals(client, observation.onStorageRefusal);
  return DynamoDBDocumentClient.from(tracedClient(client, observation.tracer), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}
