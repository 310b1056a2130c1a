import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DeferredSettlements,
  settlementHoldMs,
} from '../../../functions/model-policy/invocation/deferred-settlement.ts';
import type { GatewayMetricName } from '../../../functions/model-policy/invocation/model-call.ts';
import { InMemorySettlementQueue } from '../../../functions/model-policy/adapters/in-memory/in-memory-settlement-queue.ts';
import type { CallSettlement } from '../../../functions/model-policy/ports/ledger-port.ts';
import type { SettlementQueuePort } from '../../../functions/model-policy/ports/settlement-queue-port.ts';
import { DependencyUnavailableError } from '../../../functions/shared/errors/agentos-error.ts';

function recorder(queue?: SettlementQueuePort) {
  const counts: Partial<Record<GatewayMetricName, number>> = {};
  const errors: { message: string; attributes: Record<string, unknown> }[] = [];
  const warnings: { message: string; attributes: Record<string, unknown> }[] = [];
  const pauses: number[] = [];
  const settlements = new DeferredSettlements({
    log: {
      info: () => {},
      warn: (message, attributes) => warnings.push({ message, attributes }),
      error: (message, attributes) => errors.push({ message, attributes }),
    },
    ...(queue === undefined ? {} : { queue }),
    metrics: { count: (name, value) => (counts[name] = (counts[name] ?? 0) + value) },
    retry: {
      attempts: 3,
      pauseMs: (attempt) => attempt * 100,
      sleep: async (ms) => {
        pauses.push(ms);
      },
    },
  });
  return { settlements, counts, errors, warnings, pauses };
}

const facts = { tenantId: 'acme', requestId: 'req-1', kind: 'completed' };

/** A settlement write that fails as an unreachable table does. */
const storeDown = async () => {
  throw new DependencyUnavailableError('down');
};

/** What the log names of a settlement given up after its three attempts against {@link storeDown}. */
const gaveUpAfterThree = {
  tenant_id: 'acme',
  request_id: 'req-1',
  settlement: 'completed',
  attempts: 3,
  error_name: 'DependencyUnavailableError',
};

/** A settlement to hand off; its content is the queue's to keep, not this suite's to read. */
function settlementOf(requestId: string): CallSettlement {
  return {
    claim: {
      requestKey: `alice/${requestId}`,
      requestId,
      principalId: 'alice',
      fingerprint: 'f',
      token: `token-${requestId}`,
      leaseUntil: 2,
      expiresAt: 3,
      now: 1,
    },
    request: { kind: 'release' },
  };
}

describe('DeferredSettlements', () => {
  it('returns before the settlement runs, and a waiter of the request or tenant sees it done', async () => {
    const { settlements } = recorder();
    let settled = false;
    settlements.defer('acme/req-1', facts, async () => {
      settled = true;
    });
    expect(settled).toBe(false);
    expect(settlements.pending).toBe(1);
    await settlements.settledRequest('acme/req-1');
    expect(settled).toBe(true);
    await settlements.settledTenant('acme');
    expect(settlements.pending).toBe(0);
  });

  it('retries a failing settlement until it lands, counting no failure', async () => {
    const { settlements, counts, pauses } = recorder();
    let calls = 0;
    settlements.defer('acme/req-1', facts, async () => {
      calls += 1;
      if (calls < 3) throw new Error('store unavailable');
    });
    await settlements.drain();
    expect(calls).toBe(3);
    expect(pauses).toEqual([100, 200]);
    expect(counts.ModelSettlementsFailed).toBeUndefined();
  });

  it('logs and counts a settlement that still fails after its bounded retries, and never rejects', async () => {
    const { settlements, counts, errors } = recorder();
    let calls = 0;
    settlements.defer('acme/req-1', facts, async () => {
      calls += 1;
      throw Object.assign(new Error('down'), { name: 'DependencyUnavailableError' });
    });
    await settlements.drain();
    expect(calls).toBe(3);
    expect(counts.ModelSettlementsFailed).toBe(1);
    expect(errors).toEqual([
      {
        message: 'a model call could not be settled; its usage is lost and its reservation stays held',
        attributes: gaveUpAfterThree,
      },
    ]);
  });

  it('hands a settlement that still fails to the settlement queue, counting it queued and not failed', async () => {
    const queue = new InMemorySettlementQueue();
    const { settlements, counts, errors, warnings } = recorder(queue);
    let queued = 0;
    settlements.defer('acme/req-1', facts, storeDown, {
      settlement: settlementOf('req-1'),
      queued: () => (queued += 1),
    });
    await settlements.drain();
    expect(queue.take()).toEqual([{ tenantId: 'acme', settlement: settlementOf('req-1') }]);
    expect(queued).toBe(1);
    expect(counts.ModelSettlementsQueued).toBe(1);
    expect(counts.ModelSettlementsFailed).toBeUndefined();
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      {
        message: 'a model call could not be settled yet; its settlement is queued to be written',
        attributes: gaveUpAfterThree,
      },
    ]);
  });

  it('queues nothing for a settlement that lands on a retry', async () => {
    const queue = new InMemorySettlementQueue();
    const { settlements, counts } = recorder(queue);
    let calls = 0;
    settlements.defer(
      'acme/req-1',
      facts,
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('store unavailable');
      },
      { settlement: settlementOf('req-1') },
    );
    await settlements.drain();
    expect(queue.take()).toEqual([]);
    expect(counts.ModelSettlementsQueued).toBeUndefined();
  });

  it('logs and counts as lost a settlement the queue refuses too, naming both failures, and never rejects', async () => {
    const refusing: SettlementQueuePort = {
      enqueue: async () => {
        throw new DependencyUnavailableError('The settlement queue is unavailable');
      },
    };
    const { settlements, counts, errors } = recorder(refusing);
    let queued = 0;
    settlements.defer('acme/req-1', facts, storeDown, {
      settlement: settlementOf('req-1'),
      queued: () => (queued += 1),
    });
    await settlements.drain();
    expect(queued).toBe(0);
    expect(counts.ModelSettlementsFailed).toBe(1);
    expect(counts.ModelSettlementsQueued).toBeUndefined();
    expect(errors).toEqual([
      {
        message: 'a model call could not be settled; its usage is lost and its reservation stays held',
        attributes: {
          ...gaveUpAfterThree,
          queue_error_name: 'DependencyUnavailableError',
        },
      },
    ]);
  });

  it('waits for one tenant only, leaving another tenant pending', async () => {
    const { settlements } = recorder();
    let release!: () => void;
    settlements.defer(
      'other/req-9',
      { ...facts, tenantId: 'other' },
      () => new Promise((r) => (release = r)),
    );
    settlements.defer('acme/req-1', facts, async () => {});
    await settlements.settledTenant('acme');
    expect(settlements.pending).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await settlements.drain();
    expect(settlements.pending).toBe(0);
  });

  describe('held for the answer', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('starts no settlement before its answer is released, and each at release', async () => {
      const { settlements } = recorder();
      const started: string[] = [];
      settlements.defer('acme/req-1', facts, async () => {
        started.push('req-1');
      });
      settlements.defer('acme/req-2', { ...facts, requestId: 'req-2' }, async () => {
        started.push('req-2');
      });
      for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
      expect(started).toEqual([]);
      settlements.release();
      await new Promise((resolve) => setImmediate(resolve));
      expect(started).toEqual(['req-1', 'req-2']);
      expect(settlements.pending).toBe(0);
    });

    it('starts a settlement nobody releases once the hold is over', async () => {
      vi.useFakeTimers();
      const { settlements } = recorder();
      let settled = false;
      settlements.defer('acme/req-1', facts, async () => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(settlementHoldMs - 1);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      expect(settlements.pending).toBe(0);
    });

    it('starts what is held when a request, a tenant or the process waits for it', async () => {
      const { settlements } = recorder();
      const settled: string[] = [];
      for (const [key, tenantId] of [
        ['acme/req-1', 'acme'],
        ['other/req-2', 'other'],
        ['third/req-3', 'third'],
      ] as const) {
        settlements.defer(key, { ...facts, tenantId }, async () => {
          settled.push(key);
        });
      }
      await settlements.settledRequest('acme/req-1');
      expect(settled).toContain('acme/req-1');
      await settlements.settledTenant('other');
      expect(settled).toContain('other/req-2');
      await settlements.drain();
      expect(settled.sort()).toEqual(['acme/req-1', 'other/req-2', 'third/req-3']);
    });
  });
});
