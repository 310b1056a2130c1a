import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { encodeSettlementMessage } from '../../functions/model-policy/adapters/sqs/settlement-message.ts';
import { requestKey } from '../../functions/model-policy/metering/attribution-keys.ts';
import type { CallSettlement } from '../../functions/model-policy/ports/ledger-port.ts';
import type { UsageRecord } from '../../functions/model-policy/schemas/usage-record.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { storageKeys } from '../../functions/shared/storage/keys.ts';

/** A failed call's settlement whose claim is gone: it writes the call's usage record alone. */
export function settlementOf(tenantId: string, requestId: string): CallSettlement {
  const record: UsageRecord = {
    request_id: requestId,
    correlation_id: 'corr-1',
    tenant_id: tenantId,
    principal_id: 'alice',
    principal_type: 'user',
    endpoint: 'chat.completions',
    stream: false,
    model_ref: 'local/echo',
    outcome: 'failed',
    error_code: 'model_unavailable',
    prompt_tokens: 0,
    completion_tokens: 0,
    cost_nano: 0,
    cost_usd: 0,
    price_version: 'prices-1',
    reserved_tokens: 0,
    reserved_nano: 0,
    latency_ms: 5,
    policy: { decision: 'allow' } as unknown as UsageRecord['policy'],
    created_at: new Date().toISOString(),
  };
  const now = Date.now();
  return {
    claim: {
      requestKey: requestKey('alice', requestId),
      requestId,
      principalId: 'alice',
      fingerprint: 'fingerprint-1',
      token: `token-${requestId}`,
      leaseUntil: now + 60_000,
      expiresAt: Math.floor(now / 1000) + 86_400,
      now,
    },
    request: { kind: 'release' },
    record,
  };
}

/** Messages the queue holds, visible or received and not yet deleted. */
export async function held(sqs: SQSClient, queueUrl: string): Promise<number> {
  const answer = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const attributes = answer.Attributes ?? {};
  return (
    Number(attributes['ApproximateNumberOfMessages'] ?? 0) +
    Number(attributes['ApproximateNumberOfMessagesNotVisible'] ?? 0)
  );
}

/**
 * Sends a queued settlement of a failed call to `queueUrl` and waits (up to 10 s) for a worker to
 * take it off the queue. Returns how many messages the queue still holds and the outcomes of the
 * usage records the call's settlement wrote to `tableName`.
 */
export async function settleThroughQueue(
  aws: AwsClientConfig,
  queueUrl: string,
  tableName: string,
  tenantId: string,
): Promise<{ left: number; outcomes: unknown[] }> {
  const sqs = new SQSClient(aws);
  const db = createDocumentClient(aws);
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: encodeSettlementMessage(tenantId, settlementOf(tenantId, 'req-queued')),
      }),
    );
    // A worker deletes a message it wrote; only the settlement worker reads this one.
    let left = 1;
    for (let attempt = 0; attempt < 100 && left > 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await held(sqs, queueUrl);
    }
    const records = await db.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: {
          ':pk': storageKeys.usageRecords(tenantId, requestKey('alice', 'req-queued')),
        },
        ConsistentRead: true,
      }),
    );
    return { left, outcomes: (records.Items ?? []).map((item) => item['outcome']) };
  } finally {
    sqs.destroy();
  }
}
