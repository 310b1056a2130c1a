import { gzipSync } from 'node:zlib';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { InMemoryLedger } from '../../../functions/model-policy/adapters/in-memory/in-memory-ledger.ts';
import {
  decodeSettlementMessage,
  encodeSettlementMessage,
  UnreadableSettlementError,
} from '../../../functions/model-policy/adapters/sqs/settlement-message.ts';
import {
  createSettlementWorkerHandler,
  settleMarginMs,
} from '../../../functions/model-policy/adapters/sqs/sqs-settlement-worker.ts';
import type {
  BudgetLine,
  CallSettlement,
  LedgerPort,
} from '../../../functions/model-policy/ports/ledger-port.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';
import type { UsageRecord } from '../../../functions/model-policy/schemas/usage-record.ts';
import { createLambdaContext } from '../../../cli/local/lambda-context.ts';

const line: BudgetLine = {
  scope: 'tenant',
  period: 'total',
  scopeKey: 'tenant',
  periodKey: 'total',
  limitTokens: 1_000,
};

function claimOf(requestId: string) {
  return {
    requestKey: `alice/${requestId}`,
    requestId,
    principalId: 'alice',
    fingerprint: 'f',
    token: `token-${requestId}`,
    leaseUntil: 61_000,
    expiresAt: 90_000,
    now: 1_000,
  };
}

/** A partial stream's release, which charged 50 of its 400 reserved tokens. */
function releaseOf(requestId: string): CallSettlement {
  return {
    claim: claimOf(requestId),
    request: { kind: 'release' },
    budgets: { lines: [line], reserved: { tokens: 400, nano: 0 }, charged: { tokens: 50, nano: 0 } },
    record: {
      request_id: requestId,
      correlation_id: 'corr-1',
      tenant_id: 'acme',
      principal_id: 'alice',
      principal_type: 'user',
      endpoint: 'chat.completions',
      stream: true,
      model_ref: 'local/echo',
      outcome: 'partial',
      prompt_tokens: 20,
      completion_tokens: 30,
      cost_nano: 0,
      cost_usd: 0,
      price_version: 'prices-1',
      reserved_tokens: 400,
      reserved_nano: 0,
      latency_ms: 10,
      policy: { decision: 'allow' } as unknown as UsageRecord['policy'],
      created_at: '2026-01-01T00:00:01.000Z',
    },
  };
}

function recordOf(id: string, body: string): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `handle-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:settlements',
    awsRegion: 'us-east-1',
  };
}

function workerOn(ledger: LedgerPort) {
  const telemetry = createTelemetry('model-policy', {});
  const counted = vi.spyOn(telemetry.metrics, 'addMetric');
  vi.spyOn(telemetry.logger, 'info').mockImplementation(() => {});
  vi.spyOn(telemetry.logger, 'warn').mockImplementation(() => {});
  vi.spyOn(telemetry.logger, 'error').mockImplementation(() => {});
  const handler = createSettlementWorkerHandler({ ledger, telemetry });
  return {
    run: async (records: SQSRecord[]) =>
      (await handler({ Records: records }, createLambdaContext('settlementWorker', 60))) as SQSBatchResponse,
    metrics: () => counted.mock.calls.map(([name]) => name),
  };
}

describe('the settlement worker', () => {
  it('returns no failure and writes each settlement of a batch once, however often it is delivered', async () => {
    const ledger = new InMemoryLedger();
    await ledger.claim('acme', claimOf('req-1'));
    await ledger.reserve('acme', claimOf('req-1'), [line], { tokens: 400, nano: 0 }, 0);
    const worker = workerOn(ledger);
    const body = encodeSettlementMessage('acme', releaseOf('req-1'));
    expect(await worker.run([recordOf('m-1', body)])).toEqual({ batchItemFailures: [] });
    expect((await ledger.readBudgets('acme', [line]))[0]).toMatchObject({
      reservedTokens: 0,
      spentTokens: 50,
    });
    expect(worker.metrics()).toEqual(['ModelSettlementsRecovered']);
  });

  it('returns as failures only the messages it could not write or read, for a later delivery or the DLQ', async () => {
    const ledger = new InMemoryLedger();
    const failing: LedgerPort = Object.assign(Object.create(ledger) as LedgerPort, {
      settle: async (tenantId: string, settlement: CallSettlement) => {
        if (settlement.claim.requestId === 'req-down') throw new DependencyUnavailableError('down');
        return ledger.settle(tenantId, settlement);
      },
    });
    const worker = workerOn(failing);
    const answer = await worker.run([
      recordOf('m-ok', encodeSettlementMessage('acme', releaseOf('req-ok'))),
      recordOf('m-down', encodeSettlementMessage('acme', releaseOf('req-down'))),
      recordOf('m-garbage', 'not a settlement'),
    ]);
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm-down' }, { itemIdentifier: 'm-garbage' }]);
    expect(worker.metrics().sort()).toEqual(['ModelSettlementsRecovered', 'ModelSettlementsUnreadable']);
    // An unreadable message is counted once, not at each of its receives.
    const again = recordOf('m-garbage', 'not a settlement');
    again.attributes.ApproximateReceiveCount = '2';
    expect(await worker.run([again])).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-garbage' }] });
    expect(worker.metrics().filter((name) => name === 'ModelSettlementsUnreadable')).toHaveLength(1);
  });

  it('returns every message it has no time left to write as a failure, writing none of them', async () => {
    const ledger = new InMemoryLedger();
    const telemetry = createTelemetry('model-policy', {});
    vi.spyOn(telemetry.logger, 'info').mockImplementation(() => {});
    const handler = createSettlementWorkerHandler({ ledger, telemetry });
    const context = createLambdaContext('settlementWorker', 60);
    context.getRemainingTimeInMillis = () => settleMarginMs - 1;
    const answer = (await handler(
      { Records: [recordOf('m-1', encodeSettlementMessage('acme', releaseOf('req-1')))] },
      context,
    )) as SQSBatchResponse;
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(ledger.records).toBe(0);
  });
});

describe('a settlement message', () => {
  it('returns the settlement byte for byte as the gateway built it, its keys in their order', () => {
    // A settlement written again must be the first write's exact request (its client request token).
    const settlement = releaseOf('req-1');
    const read = decodeSettlementMessage(encodeSettlementMessage('acme', settlement));
    expect(JSON.stringify(read.settlement)).toBe(JSON.stringify(settlement));
  });

  it('returns the settlement and tenant it was made of', () => {
    expect(decodeSettlementMessage(encodeSettlementMessage('acme', releaseOf('req-1')))).toEqual({
      tenantId: 'acme',
      settlement: releaseOf('req-1'),
    });
  });

  const gzipped = (value: unknown) => gzipSync(Buffer.from(JSON.stringify(value))).toString('base64');
  it.each([
    ['text that is not base64 gzip', 'not a settlement'],
    ['gzipped text that is not JSON', gzipSync(Buffer.from('{')).toString('base64')],
    ['another version', gzipped({ v: 2, tenant_id: 'acme', settlement: releaseOf('req-1') })],
    ['no tenant', gzipped({ v: 1, settlement: releaseOf('req-1') })],
    [
      'a fractional amount',
      gzipped({
        v: 1,
        tenant_id: 'acme',
        settlement: {
          ...releaseOf('req-1'),
          budgets: { ...releaseOf('req-1').budgets, reserved: { tokens: 0.5, nano: 0 } },
        },
      }),
    ],
    [
      'an unknown request kind',
      gzipped({
        v: 1,
        tenant_id: 'acme',
        settlement: { ...releaseOf('req-1'), request: { kind: 'refund' } },
      }),
    ],
    [
      'a field the message has no place for',
      gzipped({ v: 1, tenant_id: 'acme', settlement: releaseOf('req-1'), x: 1 }),
    ],
  ])('throws UnreadableSettlementError for %s', (_name, body) => {
    expect(() => decodeSettlementMessage(body)).toThrow(UnreadableSettlementError);
  });
});
