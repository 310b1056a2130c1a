import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The part of the Powertools tracer that instruments AWS SDK clients. */
export type AwsClientTracer = {
  isTracingEnabled(): boolean;
  captureAWSv3Client<T>(client: T): T;
};

/**
 * `client` with its calls recorded as X-Ray subsegments of the invocation (HLD §9.1), when tracing
 * is on; as it is otherwise (a local node, tests, tooling).
 */
export function tracedClient<T>(client: T, tracer: AwsClientTracer | undefined): T {
  return tracer?.isTracingEnabled() === true ? tracer.captureAWSv3Client(client) : client;
}

/** Error names DynamoDB refuses a call with for throughput: what fills up in a serverless node. */
const throttleErrorNames = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

/** Cancellation reasons of a transaction that mean the same, or an item or collection too large. */
const refusedCancellationCodes = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'ItemCollectionSizeLimitExceeded',
]);

const itemSizeMessage = /item size|item collection size|size has exceeded/i;

/**
 * Whether a DynamoDB error is a refusal for capacity (throttling) or for an item's size: the
 * storage signal of the "disk full" alarm (HLD §9.3, alarm-catalog.ts). Conditional failures and
 * other validation errors are not.
 */
export function isStorageRefusal(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (throttleErrorNames.has(error.name)) return true;
  if (error.name === 'ItemCollectionSizeLimitExceededException') return true;
  if (error.name === 'ValidationException') return itemSizeMessage.test(error.message);
  if (error.name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string; Message?: string }[] })
      .CancellationReasons;
    return (reasons ?? []).some(
      (reason) =>
        refusedCancellationCodes.has(reason.Code ?? '') ||
        (reason.Code === 'ValidationError' && itemSizeMessage.test(reason.Message ?? '')),
    );
  }
  return false;
}

/**
 * Counts every attempt of `client` that DynamoDB refuses for throughput or item size: a middleware
 * inside the SDK's retry (so a throttled attempt the SDK retried counts too) and outside its
 * deserializer (so it sees the parsed error). The error still reaches the caller unchanged.
 */
export function countStorageRefusals(client: DynamoDBClient, count: () => void): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isStorageRefusal(error)) count();
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'agentosStorageRefusals' },
  );
}
