import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CallSettlement } from '../../functions/model-policy/ports/ledger-port.ts';
import type { SettlementQueuePort } from '../../functions/model-policy/ports/settlement-queue-port.ts';
import type { StoredCall } from '../../functions/model-policy/schemas/stored-call.ts';
import type { UsageRecord } from '../../functions/model-policy/schemas/usage-record.ts';

/**
 * A SettlementQueuePort under test, with a reader: `taken` returns every settlement the queue holds,
 * as the settlement worker would be given it (in any order), and removes it.
 */
export type SettlementQueueHarness = {
  port: SettlementQueuePort;
  taken(): Promise<{ tenantId: string; settlement: CallSettlement }[]>;
};

const policy = { decision: 'allow', rules: [] } as unknown as StoredCall['policy'];

function claimOf(requestId: string) {
  return {
    requestKey: `key-${requestId}`,
    requestId,
    principalId: 'alice',
    fingerprint: 'fingerprint-1',
    token: `token-${requestId}`,
    leaseUntil: 1_767_225_660_000,
    expiresAt: 1_767_312_000,
    now: 1_767_225_600_000,
  };
}

function recordOf(tenantId: string, requestId: string): UsageRecord {
  return {
    request_id: requestId,
    correlation_id: 'corr-1',
    tenant_id: tenantId,
    principal_id: 'alice',
    principal_type: 'user',
    run_id: 'run-1',
    step: 2,
    endpoint: 'chat.completions',
    stream: true,
    model_ref: 'openai/gpt-4o-mini',
    provider: 'fake',
    model: 'gpt-4o-mini',
    route: { model_ref: 'openai/gpt-4o-mini', provider: 'fake', model: 'gpt-4o-mini', hops: [] },
    outcome: 'completed',
    prompt_tokens: 12,
    completion_tokens: 30,
    cost_nano: 19_800,
    cost_usd: 0.0000198,
    price_version: 'prices-1',
    reserved_tokens: 4_096,
    reserved_nano: 2_500_000,
    latency_ms: 120,
    policy,
    created_at: '2026-01-01T00:00:00.000Z',
  };
}

/** A completed call's settlement: stored answer, budgets, record and aggregates. */
function completed(tenantId: string, requestId: string, content = 'the answer'): CallSettlement {
  return {
    claim: claimOf(requestId),
    request: {
      kind: 'complete',
      call: {
        request_id: requestId,
        completion_id: `chatcmpl-${requestId}`,
        created: 1_767_225_600,
        model_ref: 'openai/gpt-4o-mini',
        model: 'gpt-4o-mini',
        message: { role: 'assistant', content },
        finish_reason: 'stop',
        usage: { prompt_tokens: 12, completion_tokens: 30, cost_nano: 19_800 },
        route: { model_ref: 'openai/gpt-4o-mini', provider: 'fake', model: 'gpt-4o-mini', hops: [] },
        policy,
      },
    },
    budgets: {
      lines: [
        {
          scope: 'tenant',
          period: 'month',
          scopeKey: 'tenant',
          periodKey: 'month.2026-01',
          limitNano: 10 ** 10,
        },
        { scope: 'run', period: 'total', scopeKey: 'run.run-1', periodKey: 'total', limitTokens: 100_000 },
      ],
      reserved: { tokens: 4_096, nano: 2_500_000 },
      charged: { tokens: 42, nano: 19_800 },
    },
    record: recordOf(tenantId, requestId),
    aggregate: {
      windows: [
        { window: 'day', date: '2026-01-01' },
        { window: 'month', date: '2026-01' },
      ],
      principalId: 'alice',
      runId: 'run-1',
    },
  };
}

/** The behaviour every SettlementQueuePort adapter must have (HLD §5.3). */
export function settlementQueuePortConformance(
  name: string,
  factory: () => Promise<SettlementQueueHarness>,
): void {
  describe(`SettlementQueuePort conformance: ${name}`, () => {
    it('returns each settlement handed over, as it was given, with its tenant', async () => {
      const { port, taken } = await factory();
      const release: CallSettlement = {
        claim: claimOf('req-released'),
        request: { kind: 'release' },
        budgets: {
          lines: [{ scope: 'tenant', period: 'total', scopeKey: 'tenant', periodKey: 'total' }],
          reserved: { tokens: 100, nano: 0 },
          charged: { tokens: 0, nano: 0 },
        },
      };
      await port.enqueue('acme', completed('acme', 'req-1'));
      await port.enqueue('globex', release);
      const held = await taken();
      expect(held).toHaveLength(2);
      expect(held).toEqual(
        expect.arrayContaining([
          { tenantId: 'acme', settlement: completed('acme', 'req-1') },
          { tenantId: 'globex', settlement: release },
        ]),
      );
      expect(await taken()).toEqual([]);
    });

    it('returns a settlement whose stored answer is as large as a table item holds', async () => {
      const { port, taken } = await factory();
      // Random text barely compresses: about what a 400 KB table item can hold once gzipped.
      const content = randomBytes(280 * 1024).toString('base64');
      await port.enqueue('acme', completed('acme', 'req-large', content));
      expect(await taken()).toEqual([
        { tenantId: 'acme', settlement: completed('acme', 'req-large', content) },
      ]);
    });

    it('returns a settlement handed over twice twice: the ledger, not the queue, applies it once', async () => {
      const { port, taken } = await factory();
      await port.enqueue('acme', completed('acme', 'req-twice'));
      await port.enqueue('acme', completed('acme', 'req-twice'));
      expect(await taken()).toHaveLength(2);
    });
  });
}
