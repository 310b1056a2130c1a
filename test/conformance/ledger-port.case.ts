import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type {
  Amount,
  BudgetLine,
  CallSettlement,
  LedgerPort,
  RequestClaim,
} from '../../functions/model-policy/ports/ledger-port.ts';
import { requestKey } from '../../functions/model-policy/metering/attribution-keys.ts';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { RateBucket, RateLimiterPort } from '../../functions/shared/limits/limiter-port.ts';
import type { StoredCall } from '../../functions/model-policy/schemas/stored-call.ts';
import type { UsageRecord } from '../../functions/model-policy/schemas/usage-record.ts';
import { claimOf } from '../support/ledger-claims.ts';

const policy = { decision: 'allow' as const, redactions: {}, rules: [] };

/** A later attempt at `claim`'s request, `afterMs` after its lease ends (0: the very last ms of it). */
function laterClaim(claim: RequestClaim, afterMs: number, changes: Partial<RequestClaim> = {}): RequestClaim {
  const now = claim.leaseUntil + afterMs;
  return claimOf(claim.requestKey, { now, leaseUntil: now + 60_000, ...changes });
}

function lineOf(limits: { tokens?: number; nano?: number }, scopeKey = 'tenant'): BudgetLine {
  return {
    scope: 'tenant',
    period: 'total',
    scopeKey,
    periodKey: 'total',
    ...(limits.tokens === undefined ? {} : { limitTokens: limits.tokens }),
    ...(limits.nano === undefined ? {} : { limitNano: limits.nano }),
  };
}

function storedCall(requestId: string, content = 'stored answer'): StoredCall {
  return {
    request_id: requestId,
    completion_id: `chatcmpl-${requestId}`,
    created: 1_767_225_600,
    model_ref: 'local/echo',
    model: 'local/echo',
    message: { role: 'assistant', content },
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

/** A caller of a tenant, as the abort route sees it. */
function authOf(tenantId: string, principalId = 'alice'): AuthContext {
  return {
    tenant_id: tenantId,
    principal: { id: principalId, type: 'user' },
    scopes: [],
    policy_context: {},
  };
}

/** The claim of `requestId` by `principalId`, keyed as the gateway keys it. */
function callClaimOf(requestId: string, principalId = 'alice'): RequestClaim {
  return claimOf(requestKey(principalId, requestId), { requestId, principalId });
}

/**
 * How a suite counts the usage records an adapter holds of one request (its tenant, principal and
 * request id): the port itself has no read of them.
 */
export type UsageRecordCount = (
  ledger: LedgerPort,
  tenantId: string,
  principalId: string,
  requestId: string,
) => Promise<number>;

/** The behaviour every LedgerPort adapter must have (HLD §5.2 request ids, §5.3 budgets). */
/** A ledger that takes request-rate buckets in its writes, and the limiter whose buckets it shares. */
export type RatedLedgerFactory = () => Promise<{ ledger: LedgerPort; limiter: RateLimiterPort }>;

export function ledgerPortConformance(
  name: string,
  factory: () => Promise<LedgerPort>,
  usageRecords: UsageRecordCount,
  rated?: RatedLedgerFactory,
): void {
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

    it('returns claimed to a first claim, and in_progress with the lease end to a second one', async () => {
      const ledger = await factory();
      const id = tenant();
      const first = claimOf('req-1');
      expect(await ledger.claim(id, first)).toEqual({ outcome: 'claimed' });
      expect(await ledger.claim(id, claimOf('req-1'))).toEqual({
        outcome: 'in_progress',
        leaseUntil: first.leaseUntil,
      });
      // The first claim still owns the request id: it can reserve, the second one cannot.
      expect(await ledger.reserve(id, claimOf('req-1'), [lineOf({})], tokens(1), 0)).toBe('claim_lost');
      expect(await ledger.reserve(id, first, [lineOf({})], tokens(1), 0)).toBe('reserved');
      expect(await ledger.claim(id, claimOf('req-2'))).toEqual({ outcome: 'claimed' });
    });

    it('returns reused when the request id comes back with another request, running or completed', async () => {
      const ledger = await factory();
      const id = tenant();
      const first = claimOf('req-1');
      await ledger.claim(id, first);
      expect(await ledger.claim(id, claimOf('req-1', { fingerprint: 'fingerprint-2' }))).toEqual({
        outcome: 'reused',
      });
      await ledger.settle(id, settlement(id, first, { kind: 'complete', call: storedCall('req-1') }));
      expect(await ledger.claim(id, claimOf('req-1', { fingerprint: 'fingerprint-2' }))).toEqual({
        outcome: 'reused',
      });
    });

    it('returns the stored call to a retry after completion, also after its lease, and claimed after a release', async () => {
      const ledger = await factory();
      const id = tenant();
      const done = claimOf('req-done');
      await ledger.claim(id, done);
      const call = storedCall('req-done');
      await ledger.settle(id, settlement(id, done, { kind: 'complete', call }));
      call.message.content = 'changed by the caller after settling';
      const replay = await ledger.claim(id, laterClaim(done, 1));
      expect(replay).toEqual({ outcome: 'replay', call: storedCall('req-done') });
      if (replay.outcome === 'replay') replay.call.message.content = 'changed by the caller after a replay';
      expect(await ledger.claim(id, claimOf('req-done'))).toEqual({
        outcome: 'replay',
        call: storedCall('req-done'),
      });

      const released = claimOf('req-released');
      await ledger.claim(id, released);
      await ledger.settle(id, settlement(id, released, { kind: 'release' }));
      expect(await ledger.claim(id, claimOf('req-released'))).toEqual({ outcome: 'claimed' });
    });

    it('returns in_progress until the lease ends, then claimed, releasing the lapsed reservation; the lapsed attempt gets claim_lost', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const lapsed = claimOf('req-lapsed');
      await ledger.claim(id, lapsed);
      expect(await ledger.reserve(id, lapsed, [line], tokens(300), 0)).toBe('reserved');
      expect(await ledger.claim(id, laterClaim(lapsed, 0))).toEqual({
        outcome: 'in_progress',
        leaseUntil: lapsed.leaseUntil,
      });
      expect(await ledger.claim(id, laterClaim(lapsed, 1))).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      expect(await ledger.reserve(id, lapsed, [line], tokens(300), 1)).toBe('claim_lost');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0 });
    });

    it('returns reserved to a claim made with its reservation, and to a second claim what a plain claim finds', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const first = claimOf('req-joint');
      expect(await ledger.claimAndReserve(id, first, [line], tokens(300))).toEqual({ outcome: 'reserved' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 300 });
      expect(await ledger.claimAndReserve(id, claimOf('req-joint'), [line], tokens(300))).toEqual({
        outcome: 'in_progress',
        leaseUntil: first.leaseUntil,
      });
      expect(
        await ledger.claimAndReserve(
          id,
          claimOf('req-joint', { fingerprint: 'fingerprint-2' }),
          [line],
          tokens(1),
        ),
      ).toEqual({ outcome: 'reused' });
      // The duplicates reserved nothing; the reservation is the claim's, attempt 0, released at settlement.
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 300 });
      expect(await ledger.reserve(id, first, [line], tokens(300), 0)).toBe('reserved');
      expect(await ledger.reserve(id, first, [line], tokens(300), 1)).toBe('claim_lost');
      await ledger.settle(
        id,
        settlement(
          id,
          first,
          { kind: 'complete', call: storedCall('req-joint') },
          { lines: [line], reserved: tokens(300), charged: tokens(30) },
        ),
      );
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 30 });
      expect(await ledger.claimAndReserve(id, claimOf('req-joint'), [line], tokens(300))).toEqual({
        outcome: 'replay',
        call: storedCall('req-joint'),
      });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 30 });
    });

    it('returns no_room to a claim with its reservation when a line cannot take it, and writes neither', async () => {
      const ledger = await factory();
      const id = tenant();
      const roomy = lineOf({ tokens: 1_000 }, 'tenant');
      const tight = lineOf({ tokens: 100, nano: 100 }, 'principal.alice');
      const claim = claimOf('req-short');
      expect(await ledger.claimAndReserve(id, claim, [roomy, tight], tokens(150))).toEqual({
        outcome: 'no_room',
      });
      expect(await ledger.claimAndReserve(id, claim, [roomy, tight], { tokens: 10, nano: 101 })).toEqual({
        outcome: 'no_room',
      });
      expect(await ledger.readBudgets(id, [roomy, tight])).toEqual([
        expect.objectContaining({ reservedTokens: 0, reservedNano: 0 }),
        expect.objectContaining({ reservedTokens: 0, reservedNano: 0 }),
      ]);
      // The request id is still free: the caller claims it alone and reserves what remains.
      expect(await ledger.claim(id, claim)).toEqual({ outcome: 'claimed' });
      expect(await ledger.reserve(id, claim, [roomy, tight], tokens(100), 1)).toBe('reserved');
      const other = claimOf('req-short-2');
      expect(await ledger.claimAndReserve(id, other, [roomy, tight], tokens(1))).toEqual({
        outcome: 'no_room',
      });
      expect(await ledger.claimAndReserve(id, other, [roomy], tokens(900))).toEqual({ outcome: 'reserved' });
      expect((await ledger.readBudgets(id, [roomy]))[0]).toMatchObject({ reservedTokens: 1_000 });
    });

    it('returns claimed to a claim with its reservation that takes over a lapsed one, releasing what it held', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const lapsed = claimOf('req-joint-lapsed');
      expect(await ledger.claimAndReserve(id, lapsed, [line], tokens(800))).toEqual({ outcome: 'reserved' });
      const later = laterClaim(lapsed, 1);
      expect(await ledger.claimAndReserve(id, later, [line], tokens(800))).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0 });
      // The taking-over attempt holds the id with nothing reserved; it reserves from attempt 1 on.
      expect(await ledger.reserve(id, later, [line], tokens(800), 1)).toBe('reserved');
      expect(await ledger.reserve(id, lapsed, [line], tokens(800), 1)).toBe('claim_lost');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 800 });
    });

    it('returns reserved to concurrent claims with reservations only while they fit, and to one claim of a request id', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const claims = Array.from({ length: 16 }, (_, i) => claimOf(`req-joint-race-${i}`));
      const outcomes = await Promise.all(
        claims.map((claim) => ledger.claimAndReserve(id, claim, [line], tokens(150))),
      );
      const reserved = outcomes.filter(({ outcome }) => outcome === 'reserved').length;
      expect(outcomes.every(({ outcome }) => outcome === 'reserved' || outcome === 'no_room')).toBe(true);
      expect(reserved).toBeGreaterThan(0);
      expect(reserved).toBeLessThanOrEqual(6);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 150 * reserved });

      const duplicates = await Promise.all(
        Array.from({ length: 8 }, () =>
          ledger.claimAndReserve(id, claimOf('req-joint-dup'), [line], tokens(10)),
        ),
      );
      expect(duplicates.filter(({ outcome }) => outcome === 'reserved')).toHaveLength(1);
      expect(duplicates.filter(({ outcome }) => outcome === 'in_progress')).toHaveLength(7);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 150 * reserved + 10,
      });
    });

    it('returns claimed once a completed request has passed its retention', async () => {
      const ledger = await factory();
      const id = tenant();
      const done = claimOf('req-retained');
      await ledger.claim(id, done);
      await ledger.settle(id, settlement(id, done, { kind: 'complete', call: storedCall('req-retained') }));
      const retentionEnd = done.expiresAt * 1000;
      expect(await ledger.claim(id, claimOf('req-retained', { now: retentionEnd - 1_000 }))).toMatchObject({
        outcome: 'replay',
      });
      const afterRetention = claimOf('req-retained', {
        fingerprint: 'fingerprint-2',
        now: retentionEnd + 1_000,
        leaseUntil: retentionEnd + 61_000,
        expiresAt: done.expiresAt + 86_400,
      });
      expect(await ledger.claim(id, afterRetention)).toEqual({ outcome: 'claimed' });
    });

    it('returns no_room and reserves nothing when any line cannot take the amount, in tokens or in cost', async () => {
      const ledger = await factory();
      const id = tenant();
      const roomy = lineOf({ tokens: 1_000, nano: 1_000 }, 'tenant');
      const tight = lineOf({ tokens: 100 }, 'principal.alice');
      const costly = lineOf({ nano: 50 }, 'run.r1');
      const claim = claimOf('req-lines');
      await ledger.claim(id, claim);
      expect(await ledger.reserve(id, claim, [roomy, tight], tokens(150), 0)).toBe('no_room');
      expect(await ledger.reserve(id, claim, [roomy, costly], { tokens: 10, nano: 60 }, 1)).toBe('no_room');
      expect(await ledger.readBudgets(id, [roomy, tight, costly])).toEqual([
        expect.objectContaining({ reservedTokens: 0, reservedNano: 0 }),
        expect.objectContaining({ reservedTokens: 0, reservedNano: 0 }),
        expect.objectContaining({ reservedTokens: 0, reservedNano: 0 }),
      ]);
      expect(await ledger.reserve(id, claim, [roomy, tight, costly], { tokens: 100, nano: 50 }, 2)).toBe(
        'reserved',
      );
      // Another call on the roomy line only: the counters come back in the order of the lines asked for.
      const other = claimOf('req-other');
      await ledger.claim(id, other);
      expect(await ledger.reserve(id, other, [roomy], { tokens: 200, nano: 0 }, 0)).toBe('reserved');
      expect(await ledger.readBudgets(id, [tight, roomy, costly])).toEqual([
        { spentTokens: 0, spentNano: 0, reservedTokens: 100, reservedNano: 50 },
        { spentTokens: 0, spentNano: 0, reservedTokens: 300, reservedNano: 50 },
        { spentTokens: 0, spentNano: 0, reservedTokens: 100, reservedNano: 50 },
      ]);
      // Committed tokens count against the limit: 300 of 1,000 are held, so 701 no longer fit.
      const third = claimOf('req-third');
      await ledger.claim(id, third);
      expect(await ledger.reserve(id, third, [roomy], tokens(701), 0)).toBe('no_room');
      expect(await ledger.reserve(id, third, [roomy], tokens(700), 1)).toBe('reserved');
    });

    it('returns reserved to concurrent reservations only while they fit: the sum reserved never passes the limit', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const claims = Array.from({ length: 16 }, (_, i) => claimOf(`req-race-${i}`));
      await Promise.all(claims.map((claim) => ledger.claim(id, claim)));
      const outcomes = await Promise.all(
        claims.map((claim) => ledger.reserve(id, claim, [line], tokens(150), 0)),
      );
      // A store may answer no_room to a reservation that lost a race (the caller reads and retries).
      expect(new Set(outcomes)).toEqual(new Set(['reserved', 'no_room']));
      const first = outcomes.filter((outcome) => outcome === 'reserved').length;
      expect(first).toBeLessThanOrEqual(6);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 150 * first });
      // Retried one by one, as the gateway does, the refused ones fill the budget exactly to the limit.
      const retried: string[] = [];
      for (const [index, claim] of claims.entries()) {
        if (outcomes[index] === 'no_room')
          retried.push(await ledger.reserve(id, claim, [line], tokens(150), 1));
      }
      expect(first + retried.filter((outcome) => outcome === 'reserved').length).toBe(6);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 900 });
    });

    it('returns reserved again to a retried write of the same attempt and counts it once', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const claim = claimOf('req-retried');
      await ledger.claim(id, claim);
      expect(await ledger.reserve(id, claim, [line], tokens(200), 0)).toBe('reserved');
      expect(await ledger.reserve(id, claim, [line], tokens(200), 0)).toBe('reserved');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 200 });
    });

    it('returns claim_lost to another reservation under a claim that holds one or was settled', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const holding = claimOf('req-holding');
      await ledger.claim(id, holding);
      expect(await ledger.reserve(id, holding, [line], tokens(100), 0)).toBe('reserved');
      expect(await ledger.reserve(id, holding, [line], tokens(100), 1)).toBe('claim_lost');
      const completed = claimOf('req-completed');
      await ledger.claim(id, completed);
      await ledger.settle(
        id,
        settlement(id, completed, { kind: 'complete', call: storedCall('req-completed') }),
      );
      expect(await ledger.reserve(id, completed, [line], tokens(100), 0)).toBe('claim_lost');
      const released = claimOf('req-released');
      await ledger.claim(id, released);
      await ledger.settle(id, settlement(id, released, { kind: 'release' }));
      expect(await ledger.reserve(id, released, [line], tokens(100), 0)).toBe('claim_lost');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 100 });
    });

    it('returns the charged amount as spent after a settlement, the rest of the reservation released', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000, nano: 10_000 });
      const claim = claimOf('req-settle');
      await ledger.claim(id, claim);
      await ledger.reserve(id, claim, [line], { tokens: 500, nano: 5_000 }, 0);
      await ledger.settle(
        id,
        settlement(
          id,
          claim,
          { kind: 'complete', call: storedCall('req-settle') },
          { lines: [line], reserved: { tokens: 500, nano: 5_000 }, charged: { tokens: 120, nano: 1_200 } },
        ),
      );
      expect((await ledger.readBudgets(id, [line]))[0]).toEqual({
        reservedTokens: 0,
        reservedNano: 0,
        spentTokens: 120,
        spentNano: 1_200,
      });
      // What was released is room again; what was spent is not.
      const next = claimOf('req-next');
      await ledger.claim(id, next);
      expect(await ledger.reserve(id, next, [line], tokens(881), 0)).toBe('no_room');
      expect(await ledger.reserve(id, next, [line], tokens(880), 1)).toBe('reserved');
    });

    it('returns claimed after a release that charged part of its reservation, which stays spent', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const partial = claimOf('req-partial');
      await ledger.claim(id, partial);
      await ledger.reserve(id, partial, [line], tokens(400), 0);
      await ledger.settle(
        id,
        settlement(
          id,
          partial,
          { kind: 'release' },
          { lines: [line], reserved: tokens(400), charged: tokens(50) },
        ),
      );
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 50 });
      const retry = claimOf('req-partial');
      expect(await ledger.claim(id, retry)).toEqual({ outcome: 'claimed' });
      expect(await ledger.reserve(id, retry, [line], tokens(951), 0)).toBe('no_room');
      expect(await ledger.reserve(id, retry, [line], tokens(950), 1)).toBe('reserved');
    });

    it('returns the taking-over attempt its claim when a lapsed attempt settles late, which is still charged', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const lapsed = claimOf('req-late');
      await ledger.claim(id, lapsed);
      await ledger.reserve(id, lapsed, [line], tokens(300), 0);
      const later = laterClaim(lapsed, 1);
      expect(await ledger.claim(id, later)).toEqual({ outcome: 'claimed' });
      expect(await ledger.reserve(id, later, [line], tokens(200), 0)).toBe('reserved');
      await ledger.settle(
        id,
        settlement(
          id,
          lapsed,
          { kind: 'complete', call: storedCall('req-late', 'the lapsed answer') },
          { lines: [line], reserved: tokens(300), charged: tokens(100) },
        ),
      );
      // The later attempt's reservation is intact and the lapsed one is billed what it consumed.
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 200,
        spentTokens: 100,
      });
      expect(await ledger.claim(id, claimOf('req-late', { now: later.now }))).toEqual({
        outcome: 'in_progress',
        leaseUntil: later.leaseUntil,
      });
      await ledger.settle(
        id,
        settlement(
          id,
          later,
          { kind: 'complete', call: storedCall('req-late') },
          { lines: [line], reserved: tokens(200), charged: tokens(60) },
        ),
      );
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 0,
        spentTokens: 160,
      });
      expect(await ledger.claim(id, claimOf('req-late', { now: later.now }))).toEqual({
        outcome: 'replay',
        call: storedCall('req-late'),
      });
    });

    it('returns the budgets, record and stored response of one write when a settlement is written again', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000, nano: 10_000 });
      const claim = callClaimOf('req-twice');
      await ledger.claim(id, claim);
      await ledger.reserve(id, claim, [line], { tokens: 500, nano: 5_000 }, 0);
      const once = settlement(
        id,
        claim,
        { kind: 'complete', call: storedCall('req-twice') },
        { lines: [line], reserved: { tokens: 500, nano: 5_000 }, charged: { tokens: 120, nano: 1_200 } },
      );
      // A retry whose first write landed, or a settlement replayed from the settlement queue.
      await ledger.settle(id, once);
      await ledger.settle(id, structuredClone(once));
      expect((await ledger.readBudgets(id, [line]))[0]).toEqual({
        reservedTokens: 0,
        reservedNano: 0,
        spentTokens: 120,
        spentNano: 1_200,
      });
      expect(await usageRecords(ledger, id, 'alice', 'req-twice')).toBe(1);
      expect(await ledger.claim(id, callClaimOf('req-twice'))).toEqual({
        outcome: 'replay',
        call: storedCall('req-twice'),
      });
    });

    it('returns a release charged once when it is written again, the request id free for a retry', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const partial = claimOf('req-partial-twice');
      await ledger.claim(id, partial);
      await ledger.reserve(id, partial, [line], tokens(400), 0);
      const once = settlement(
        id,
        partial,
        { kind: 'release' },
        { lines: [line], reserved: tokens(400), charged: tokens(50) },
      );
      await ledger.settle(id, once);
      await ledger.settle(id, once);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 50 });
      const retry = claimOf('req-partial-twice');
      expect(await ledger.claim(id, retry)).toEqual({ outcome: 'claimed' });
      // A third write of the released settlement leaves the retry's claim and budgets alone.
      await ledger.settle(id, once);
      expect(await ledger.reserve(id, retry, [line], tokens(950), 0)).toBe('reserved');
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 950,
        spentTokens: 50,
      });
    });

    it('throws when a settlement without a record charges something, and writes nothing of it', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const refused = claimOf('req-unrecorded');
      await ledger.claim(id, refused);
      await ledger.reserve(id, refused, [line], tokens(400), 0);
      // Only a call refused by its tenant's rate has no record, and it reached no backend.
      const charging: CallSettlement = {
        claim: refused,
        request: { kind: 'release' },
        budgets: { lines: [line], reserved: tokens(400), charged: tokens(50) },
      };
      await expect(ledger.settle(id, charging)).rejects.toThrow(TypeError);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 400,
        spentTokens: 0,
      });
      const release = { ...charging, budgets: { ...charging.budgets!, charged: tokens(0) } };
      await ledger.settle(id, release);
      const retry = claimOf('req-unrecorded');
      expect(await ledger.claim(id, retry)).toEqual({ outcome: 'claimed' });
      // Written again after a retry claimed the id, it moves nothing.
      await ledger.settle(id, release);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      expect(await ledger.reserve(id, retry, [line], tokens(1_000), 0)).toBe('reserved');
    });

    it('returns a lapsed attempt charged once when its late settlement is written again after a takeover', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const lapsed = callClaimOf('req-late-twice');
      await ledger.claim(id, lapsed);
      await ledger.reserve(id, lapsed, [line], tokens(300), 0);
      const later = laterClaim(lapsed, 1);
      expect(await ledger.claim(id, later)).toEqual({ outcome: 'claimed' });
      const late = settlement(
        id,
        lapsed,
        { kind: 'complete', call: storedCall('req-late-twice', 'the lapsed answer') },
        { lines: [line], reserved: tokens(300), charged: tokens(100) },
      );
      await ledger.settle(id, late);
      await ledger.settle(id, late);
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({
        reservedTokens: 0,
        spentTokens: 100,
      });
      expect(await usageRecords(ledger, id, 'alice', 'req-late-twice')).toBe(1);
    });

    it('returns in_progress after a release without budgets while the claim holds a reservation, until a takeover releases it', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const holder = claimOf('req-held');
      await ledger.claim(id, holder);
      await ledger.reserve(id, holder, [line], tokens(300), 0);
      // The caller believes its reservation failed, so it releases the request id without budgets.
      await ledger.settle(id, settlement(id, holder, { kind: 'release' }));
      expect(await ledger.claim(id, claimOf('req-held'))).toEqual({
        outcome: 'in_progress',
        leaseUntil: holder.leaseUntil,
      });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 300 });
      expect(await ledger.claim(id, laterClaim(holder, 1))).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
    });

    it('returns in_progress after a completion without budgets while the claim holds a reservation, until a takeover releases it', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const holder = claimOf('req-held-complete');
      await ledger.claim(id, holder);
      await ledger.reserve(id, holder, [line], tokens(300), 0);
      // Completing without budgets would otherwise drop the claim's record of a reservation that
      // still counts on the budget line: nobody could release it any more.
      await ledger.settle(
        id,
        settlement(id, holder, { kind: 'complete', call: storedCall('req-held-complete') }),
      );
      expect(await ledger.claim(id, claimOf('req-held-complete'))).toEqual({
        outcome: 'in_progress',
        leaseUntil: holder.leaseUntil,
      });
      expect(await ledger.claim(id, laterClaim(holder, 1))).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
    });

    it("returns nothing of one tenant's claims, reservations or stored calls to another", async () => {
      const ledger = await factory();
      const [a, b] = [tenant(), tenant()];
      const line = lineOf({ tokens: 1_000 });
      const claimA = claimOf('req-shared');
      await ledger.claim(a, claimA);
      expect(await ledger.reserve(a, claimA, [line], tokens(400), 0)).toBe('reserved');
      const claimB = claimOf('req-shared', { fingerprint: 'other' });
      expect(await ledger.claim(b, claimB)).toEqual({ outcome: 'claimed' });
      expect((await ledger.readBudgets(b, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      // B's whole budget is free, and taking it leaves A's counters and claim as they were.
      expect(await ledger.reserve(b, claimB, [line], tokens(1_000), 0)).toBe('reserved');
      expect((await ledger.readBudgets(a, [line]))[0]).toMatchObject({ reservedTokens: 400 });
      expect(await ledger.claim(a, claimOf('req-shared'))).toEqual({
        outcome: 'in_progress',
        leaseUntil: claimA.leaseUntil,
      });
      await ledger.settle(b, settlement(b, claimB, { kind: 'complete', call: storedCall('req-shared') }));
      expect(await ledger.claim(a, claimOf('req-shared'))).toMatchObject({ outcome: 'in_progress' });
    });

    it('returns the request id free and the reservation released after a release without a record, which writes no usage', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const refused = claimOf('req-rate-refused');
      expect(await ledger.claimAndReserve(id, refused, [line], tokens(300))).toEqual({ outcome: 'reserved' });
      // As the gateway releases a call its tenant's request rate refused (HLD §10.2).
      await ledger.settle(id, {
        claim: refused,
        request: { kind: 'release' },
        budgets: { lines: [line], reserved: tokens(300), charged: tokens(0) },
      });
      expect((await ledger.readBudgets(id, [line]))[0]).toEqual({
        spentTokens: 0,
        spentNano: 0,
        reservedTokens: 0,
        reservedNano: 0,
      });
      expect(await usageRecords(ledger, id, 'alice', 'req-rate-refused')).toBe(0);
      const retry = claimOf('req-rate-refused');
      expect(await ledger.claimAndReserve(id, retry, [line], tokens(1_000))).toEqual({ outcome: 'reserved' });
      // The same release with a record writes it: the count above saw none because none was written.
      await ledger.settle(id, {
        ...settlement(id, retry, { kind: 'release' }),
        budgets: { lines: [line], reserved: tokens(1_000), charged: tokens(0) },
      });
      expect(await usageRecords(ledger, id, 'alice', 'req-rate-refused')).toBe(1);
      expect(await ledger.claim(id, claimOf('req-rate-refused'))).toEqual({ outcome: 'claimed' });
    });

    it('returns the request id to the taking-over attempt after a late release without a record, which writes no usage', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const lapsed = claimOf('req-rate-lapsed');
      expect(await ledger.claimAndReserve(id, lapsed, [line], tokens(300))).toEqual({ outcome: 'reserved' });
      const later = laterClaim(lapsed, 1);
      expect(await ledger.claim(id, later)).toEqual({ outcome: 'claimed' });
      await ledger.settle(id, {
        claim: lapsed,
        request: { kind: 'release' },
        budgets: { lines: [line], reserved: tokens(300), charged: tokens(0) },
      });
      // The takeover released the reservation already, and the later attempt keeps the request id.
      expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      expect(await usageRecords(ledger, id, 'alice', 'req-rate-lapsed')).toBe(0);
      expect(await ledger.claim(id, claimOf('req-rate-lapsed', { now: later.now }))).toMatchObject({
        outcome: 'in_progress',
      });
    });

    it('returns untouched budgets and request ids after a refusal is recorded', async () => {
      const ledger = await factory();
      const id = tenant();
      const line = lineOf({ tokens: 1_000 });
      const claim = claimOf('req-refused');
      await ledger.recordRefusal(id, recordOf(id, claim, 'denied'));
      expect(await ledger.readBudgets(id, [line])).toEqual([
        { spentTokens: 0, spentNano: 0, reservedTokens: 0, reservedNano: 0 },
      ]);
      expect(await ledger.claim(id, claim)).toEqual({ outcome: 'claimed' });
      // A refusal of the same request after a claim neither frees nor settles it.
      await ledger.recordRefusal(id, recordOf(id, claim, 'denied'));
      expect(await ledger.claim(id, claimOf('req-refused'))).toMatchObject({ outcome: 'in_progress' });
      expect(await ledger.readBudgets(id, [])).toEqual([]);
    });

    it('marks only an in-flight call of the same tenant and principal as abort-requested (HLD §5.3)', async () => {
      const ledger = await factory();
      const a = tenant();
      const b = tenant();
      const line = lineOf({ tokens: 1_000 });
      const claim = callClaimOf('run-1/step-1');
      // Nothing to stop before the request id is claimed.
      expect(await ledger.requestAbort(authOf(a), 'run-1/step-1')).toBe(false);
      expect(await ledger.claim(a, claim)).toEqual({ outcome: 'claimed' });
      expect(await ledger.reserve(a, claim, [line], tokens(400), 0)).toBe('reserved');
      expect(await ledger.abortRequested(authOf(a), 'run-1/step-1')).toBe(false);
      // Another tenant, or another principal of the same tenant, marks nothing and learns nothing.
      expect(await ledger.requestAbort(authOf(b), 'run-1/step-1')).toBe(false);
      expect(await ledger.requestAbort(authOf(a, 'mallory'), 'run-1/step-1')).toBe(false);
      expect(await ledger.abortRequested(authOf(a), 'run-1/step-1')).toBe(false);
      expect(await ledger.requestAbort(authOf(a), 'run-1/step-1')).toBe(true);
      // Idempotent, and only read back by the caller who may ask.
      expect(await ledger.requestAbort(authOf(a), 'run-1/step-1')).toBe(true);
      expect(await ledger.abortRequested(authOf(a), 'run-1/step-1')).toBe(true);
      expect(await ledger.abortRequested(authOf(b), 'run-1/step-1')).toBe(false);
      // Marking moves no budget and leaves the claim its holder's: it alone settles the call.
      expect((await ledger.readBudgets(a, [line]))[0]).toMatchObject({ reservedTokens: 400 });
      expect(await ledger.claim(a, callClaimOf('run-1/step-1'))).toMatchObject({ outcome: 'in_progress' });
      await ledger.settle(a, {
        ...settlement(a, claim, { kind: 'release' }),
        budgets: { lines: [line], reserved: tokens(400), charged: tokens(0) },
      });
      expect((await ledger.readBudgets(a, [line]))[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
      // A released request id has no live call left to stop.
      expect(await ledger.requestAbort(authOf(a), 'run-1/step-1')).toBe(false);
      expect(await ledger.abortRequested(authOf(a), 'run-1/step-1')).toBe(false);
    });

    it('does not mark a completed call, and a new claim of the id starts unmarked', async () => {
      const ledger = await factory();
      const a = tenant();
      const claim = callClaimOf('run-2/step-1');
      expect(await ledger.claim(a, claim)).toEqual({ outcome: 'claimed' });
      await ledger.settle(a, settlement(a, claim, { kind: 'complete', call: storedCall('run-2/step-1') }));
      expect(await ledger.requestAbort(authOf(a), 'run-2/step-1')).toBe(false);
      expect(await ledger.abortRequested(authOf(a), 'run-2/step-1')).toBe(false);

      const marked = callClaimOf('run-3/step-1');
      expect(await ledger.claim(a, marked)).toEqual({ outcome: 'claimed' });
      expect(await ledger.requestAbort(authOf(a), 'run-3/step-1')).toBe(true);
      // Its lease lapses: a later attempt takes the id over, unmarked.
      expect(await ledger.claim(a, laterClaim(marked, 1, { requestId: 'run-3/step-1' }))).toEqual({
        outcome: 'claimed',
      });
      expect(await ledger.abortRequested(authOf(a), 'run-3/step-1')).toBe(false);
    });
  });

  describe.runIf(rated !== undefined)(
    `LedgerPort conformance, request rate in the claim's write: ${name}`,
    () => {
      const tenant = () => `t${randomUUID().slice(0, 8)}`;
      // Two calls at once, and none more within the test: the bucket refills in an hour.
      const bucketOf = (tenantId: string): RateBucket => ({
        key: `tenant/${tenantId}/limits/model-request-rate`,
        limit: { rate: 2, periodSeconds: 7_200, burst: 2 },
      });

      it('returns reserved with the rate taken, and then rate_limited once the bucket is spent, writing nothing', async () => {
        const { ledger } = await rated!();
        const id = tenant();
        const line = lineOf({ tokens: 10_000 });
        const first = await ledger.claimAndReserve(id, claimOf('req-1'), [line], tokens(100), bucketOf(id));
        expect(first).toMatchObject({ outcome: 'reserved', rate: { allowed: true, limit: 2, remaining: 1 } });
        const second = await ledger.claimAndReserve(id, claimOf('req-2'), [line], tokens(100), bucketOf(id));
        expect(second).toMatchObject({ outcome: 'reserved', rate: { allowed: true, remaining: 0 } });
        const refused = claimOf('req-3');
        const third = await ledger.claimAndReserve(id, refused, [line], tokens(100), bucketOf(id));
        expect(third).toMatchObject({ outcome: 'rate_limited', rate: { allowed: false, remaining: 0 } });
        // Neither the claim nor the reservation of the refused call was written.
        expect((await ledger.readBudgets(id, [line]))[0]).toMatchObject({ reservedTokens: 200 });
        expect(await ledger.claim(id, refused)).toEqual({ outcome: 'claimed' });
      });

      it('returns reserved with the rate taken for a claim with no budget line', async () => {
        const { ledger, limiter } = await rated!();
        const id = tenant();
        const outcome = await ledger.claimAndReserve(id, claimOf('req-1'), [], tokens(0), bucketOf(id));
        expect(outcome).toMatchObject({ outcome: 'reserved', rate: { allowed: true, remaining: 1 } });
        const bucket = bucketOf(id);
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 0 });
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: false });
      });

      it("counts the ledger's takes and the limiter's own against one bucket", async () => {
        const { ledger, limiter } = await rated!();
        const id = tenant();
        const bucket = bucketOf(id);
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 1 });
        const line = lineOf({ tokens: 10_000 });
        expect(await ledger.claimAndReserve(id, claimOf('req-1'), [line], tokens(1), bucket)).toMatchObject({
          outcome: 'reserved',
          rate: { remaining: 0 },
        });
        expect(await ledger.claimAndReserve(id, claimOf('req-2'), [line], tokens(1), bucket)).toMatchObject({
          outcome: 'rate_limited',
        });
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: false });
      });

      it('leaves the bucket untaken when the request id is taken or the budgets have no room', async () => {
        const { ledger, limiter } = await rated!();
        const id = tenant();
        const bucket = bucketOf(id);
        const line = lineOf({ tokens: 1_000 });
        const held = claimOf('req-held');
        expect(await ledger.claim(id, held)).toEqual({ outcome: 'claimed' });
        expect(await ledger.claimAndReserve(id, claimOf('req-held'), [line], tokens(10), bucket)).toEqual({
          outcome: 'in_progress',
          leaseUntil: held.leaseUntil,
        });
        expect(await ledger.claimAndReserve(id, claimOf('req-big'), [line], tokens(5_000), bucket)).toEqual({
          outcome: 'no_room',
        });
        // Both places are still in the bucket.
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 1 });
        expect(await limiter.take(bucket.key, bucket.limit)).toMatchObject({ allowed: true, remaining: 0 });
      });
    },
  );
}
