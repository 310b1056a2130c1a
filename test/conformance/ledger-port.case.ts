import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  Amount,
  BudgetLine,
  CallSettlement,
  LedgerPort,
  RequestClaim,
} from '../../functions/model-policy/ports/ledger-port.ts';
import type { StoredCall } from '../../functions/model-policy/schemas/stored-call.ts';
import type { UsageRecord } from '../../functions/model-policy/schemas/usage-record.ts';

const policy = { decision: 'allow' as const, redactions: {}, rules: [] };

function claimOf(requestKey: string, changes: Partial<RequestClaim> = {}): RequestClaim {
  const now = Date.now();
  return {
    requestKey,
    requestId: requestKey,
    principalId: 'alice',
    fingerprint: 'fingerprint-1',
    token: randomUUID(),
    leaseUntil: now + 60_000,
    expiresAt: Math.floor(now / 1000) + 86_400,
    now,
    ...changes,
  };
}

function lineOf(limitTokens: number, scopeKey = 'tenant'): BudgetLine {
  return { scope: 'tenant', period: 'total', scopeKey, periodKey: 'total', limitTokens };
}

function storedCall(requestId: string): StoredCall {
  return {
    request_id: requestId,
    completion_id: `chatcmpl-${requestId}`,
    created: 1_767_225_600,
    model_ref: 'local/echo',
    model: 'local/echo',
    message: { role: 'assistant', content: 'stored answer' },
    finish_reason: 'stop',
    usage: { prompt_tokens: 10, completion_tokens: 20, cost_nano: 0 },
    route: { model_ref: 'local/echo', provider: 'local', model: 'local/echo', hops: [] },
    policy,
  };
}

function recordOf(tenantId: string, claim: RequestClaim, outcome: UsageRecord['outcome']): UsageRecord {
  return {
    request_id: claim.requestId,
    correlation_id: 'corr',
    tenant_id: tenantId,
    principal_id: claim.principalId,
    principal_type: 'user',
    endpoint: 'invoke',
    stream: false,
    model_ref: 'local/echo',
    outcome,
    prompt_tokens: 10,
    completion_tokens: 20,
    cost_nano: 0,
    cost_usd: 0,
    price_version: 'test',
    reserved_tokens: 0,
    reserved_nano: 0,
    latency_ms: 1,
    policy,
    created_at: new Date(claim.now).toISOString(),
  };
}

const tokens = (count: number): Amount => ({ tokens: count, nano: 0 });

/** The behaviour every LedgerPort adapter must have (HLD §5.2 request ids, §5.3 budgets). */
export function ledgerPortConformance(name: string, factory: () => Promise<LedgerPort>): void {
  describe(`LedgerPort conformance: ${name}`, () => {
    const tenant = () => `t${randomUUID().slice(0, 8)}`;

    function settlement(
      tenantId: string,
      claim: RequestClaim,
      request: CallSettlement['request'],
      budgets?: CallSettlement['budgets'],
    ): CallSettlement {
      return {
        claim,
        request,
        ...(budgets === undefined ? {} : { budgets }),
        record: recordOf(tenantId, claim, request.kind === 'complete' ? 'completed' : 'failed'),
      };
    }

    it('returns claimed for a first claim, and in_progress with the lease end while it runs', async () => {
      const ledger = await factory();
      const id = tenant();
      const first = claimOf('req-1');
      expect(await ledger.claim(id, first)).toEqual({ outcome: 'claimed' });
      expect(await ledger.claim(id, claimOf('req-1'))).toEqual({
        outcome: 'in_progress',
        leaseUntil: first.leaseUntil,
      });
    });

    it('returns reused when the request id comes back with another request', async () => {
      const ledger = await factory();
      const id = tenant();
      await ledger.claim(id, claimOf('req-1'));
      expect(await ledger.claim(id, claimOf('req-1', { fingerprint: 'fingerprint-2' }))).toEqual({
        outcome: 'reused',
      });
    });

    it('returns the stored call to a retry after completion, and a fresh claim after a release', async () => {
      const ledger = await factory();
      const id = tenant();
      const done = claimOf('req-done');
      await ledger.claim(id, done);
      await ledger.settle(id, settlement(id, done, { kind: 'complete', call: storedCall('req-done') }));
      expect(await ledger.claim(id, claimOf('req-done'))).toEqual({
        outcome: 'replay',
        call: storedCall('req-done'),
      });
      const released = claimOf('req-released');
      await ledger.claim(id, released);
      await ledger.settle(id, settlement(id, released, { kind: 'release' }));
      expect(await ledger.claim(id, claimOf('req-released'))).toEqual({ outcome: 'claimed' });
    });

    it('takes a lapsed claim over, releasing its reservation; the lapsed attempt then gets claim_lost', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf(1_000);
      const lapsed = claimOf('req-lapsed');
      await ledger.claim(id, lapsed);
      expect(await ledger.reserve(id, lapsed, [line], tokens(300), 0)).toBe('reserved');
      const later = claimOf('req-lapsed', {
        now: lapsed.leaseUntil + 1,
        leaseUntil: lapsed.leaseUntil + 60_000,
      });
      expect(await ledger.claim(id, later)).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      expect(await ledger.reserve(id, lapsed, [line], tokens(300), 1)).toBe('claim_lost');
    });

    it('reserves on every line or on none: no_room leaves each line as it was', async () => {
      const ledger = await factory();
      const id = tenant();
      const roomy = lineOf(1_000, 'tenant');
      const tight = lineOf(100, 'principal.alice');
      const claim = claimOf('req-lines');
      await ledger.claim(id, claim);
      expect(await ledger.reserve(id, claim, [roomy, tight], tokens(150), 0)).toBe('no_room');
      expect(await ledger.readBudgets(id, [roomy, tight])).toEqual([
        expect.objectContaining({ reservedTokens: 0 }),
        expect.objectContaining({ reservedTokens: 0 }),
      ]);
      expect(await ledger.reserve(id, claim, [roomy, tight], tokens(100), 1)).toBe('reserved');
      expect(await ledger.readBudgets(id, [roomy, tight])).toEqual([
        expect.objectContaining({ reservedTokens: 100 }),
        expect.objectContaining({ reservedTokens: 100 }),
      ]);
    });

    it('never lets concurrent reservations go past a limit', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf(1_000);
      const claims = Array.from({ length: 16 }, (_, i) => claimOf(`req-race-${i}`));
      await Promise.all(claims.map((claim) => ledger.claim(id, claim)));
      const outcomes = await Promise.all(
        claims.map((claim) => ledger.reserve(id, claim, [line], tokens(150), 0)),
      );
      expect(outcomes.filter((outcome) => outcome === 'reserved')).toHaveLength(6);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 900 });
    });

    it('answers reserved again for a retried write of the same attempt and counts it once', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf(1_000);
      const claim = claimOf('req-retried');
      await ledger.claim(id, claim);
      expect(await ledger.reserve(id, claim, [line], tokens(200), 0)).toBe('reserved');
      expect(await ledger.reserve(id, claim, [line], tokens(200), 0)).toBe('reserved');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 200 });
    });

    it('settles a call to what it is charged, releasing the rest of its reservation', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf(1_000);
      const claim = claimOf('req-settle');
      await ledger.claim(id, claim);
      await ledger.reserve(id, claim, [line], tokens(500), 0);
      await ledger.settle(
        id,
        settlement(
          id,
          claim,
          { kind: 'complete', call: storedCall('req-settle') },
          { lines: [line], reserved: tokens(500), charged: tokens(120) },
        ),
      );
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 0,
        spentTokens: 120,
      });
    });

    it("keeps tenants apart: one tenant's claims and budgets are invisible to another", async () => {
      const ledger = await factory();
      const [a, b] = [tenant(), tenant()];
      const line = lineOf(1_000);
      const claim = claimOf('req-shared');
      await ledger.claim(a, claim);
      await ledger.reserve(a, claim, [line], tokens(400), 0);
      expect(await ledger.claim(b, claimOf('req-shared', { fingerprint: 'other' }))).toEqual({
        outcome: 'claimed',
      });
      expect((await ledger.readBudgets(b, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
    });

    it('records a refusal without touching budgets or request ids', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf(1_000);
      const claim = claimOf('req-refused');
      await ledger.recordRefusal(id, recordOf(id, claim, 'denied'));
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      expect(await ledger.claim(id, claim)).toEqual({ outcome: 'claimed' });
    });
  });
}
