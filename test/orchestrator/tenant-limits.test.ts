import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import type { TenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * A tenant's run limits as its users meet them over real HTTP (HLD §5.2, §10.2): the run-creation
 * bucket with its headers, the concurrency cap that queues runs and frees its slots as they end, and
 * an operator's stop that frees a slot. The node reads tenants afresh on every request here.
 */
let node: TestNode;
let operator: AgentOsClient;

type RunView = { run_id: string; status: string; status_reason: string | null };
type ErrorBody = { error: { code: string; details?: Record<string, unknown> } };

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { AGENTOS_TENANT_CACHE_SECONDS: '0' } });
  operator = await operatorClient(node);
});

afterAll(async () => {
  await node.stop();
});

/** Seeds `tenantId`, sets its quotas through the operator API and returns a client that sees all its runs. */
async function tenantWith(tenantId: string, quotas: Partial<TenantQuotas>): Promise<AgentOsClient> {
  await node.seed(tenantId);
  const patched = await operator.request('PATCH', `/v1/admin/tenants/${tenantId}`, { body: { quotas } });
  expect(patched.status).toBe(200);
  return new AgentOsClient(
    node.node.orchestratorUrl,
    await node.auth.token(tenantId, { scopes: [...defaultTenantScopes, scopes.runsReadAll] }),
  );
}

async function allRuns(client: AgentOsClient): Promise<RunView[]> {
  const page = await client.request<{ data: RunView[] }>('GET', '/v1/runs?limit=100');
  expect(page.status).toBe(200);
  return page.body.data;
}

const quick = (text: string) => scriptedInput('sample-agent', [{ reply: text, delay_ms: 200 }], text);

describe("a tenant's run-creation rate", () => {
  it('tells an accepted run how much of the burst is left, and refuses the run past the burst with Retry-After', async () => {
    // One run per 100 s: however slow the machine, the bucket does not refill during the test.
    const limited = await tenantWith('bursty', { runs_per_second: 0.01, run_burst: 2 });
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await limited.createRun(quick(`burst ${i}`)));
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 429]);
    for (const [i, accepted] of answers.slice(0, 2).entries()) {
      expect(accepted.headers.get('ratelimit-limit')).toBe('2');
      expect(accepted.headers.get('ratelimit-remaining')).toBe(String(1 - i));
      expect(Number(accepted.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const refused = answers[2]!;
    expect(refused.body as unknown as ErrorBody).toMatchObject({
      error: { code: 'rate_limited', details: { limit: 'tenant_run_rate' } },
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // Another tenant's bucket is its own.
    const other = await tenantWith('steady', { runs_per_second: 0.01, run_burst: 2 });
    const others = [await other.createRun(quick('a')), await other.createRun(quick('b'))];
    expect(others.map((answer) => answer.status)).toEqual([201, 201]);

    // The runs end before the next test counts the node's run slots.
    for (const [client, created] of [
      [limited, answers.slice(0, 2)],
      [other, others],
    ] as const) {
      for (const answer of created) {
        const ended = await waitForRun<RunView>(
          client,
          answer.body.run_id,
          (run) => run.status === 'completed',
          60_000,
        );
        expect(ended.status).toBe('completed');
      }
    }
  });
});

describe("a tenant's concurrency cap", () => {
  it('accepts 30 runs, never runs more than 3 at once, says why the others wait, and completes them all', async () => {
    const capped = await tenantWith('capped', { max_concurrent_runs: 3, max_queued_runs: 40 });
    // The run slots held are the authoritative count: a listing reads its runs one after another, so
    // under load it can see a run still running and, a moment later, the run that took its slot.
    const slotsInUse = async () =>
      (await operator.request<{ run_slots: { in_use: number } }>('GET', '/v1/admin/capacity')).body.run_slots
        .in_use;
    await expect.poll(slotsInUse, { timeout: 30_000, interval: 100 }).toBe(0);
    const created = await Promise.all(
      Array.from({ length: 30 }, (_, i) => capped.createRun(quick(`run ${i}`))),
    );
    expect(created.map((answer) => answer.status)).toEqual(Array.from({ length: 30 }, () => 201));
    const ids = new Set(created.map((answer) => answer.body.run_id));

    let mostRunning = 0;
    const reasons = new Set<string>();
    let runs = await allRuns(capped);
    const deadline = Date.now() + 120_000;
    while (runs.some((run) => run.status === 'queued' || run.status === 'running') && Date.now() < deadline) {
      mostRunning = Math.max(mostRunning, await slotsInUse());
      for (const run of runs)
        if (run.status === 'queued' && run.status_reason !== null) reasons.add(run.status_reason);
      await new Promise((resolve) => setTimeout(resolve, 100));
      runs = await allRuns(capped);
    }
    expect(mostRunning).toBeGreaterThan(0);
    expect(mostRunning).toBeLessThanOrEqual(3);
    expect([...reasons]).toEqual(['waiting_for_run_slot']);
    expect(runs.filter((run) => ids.has(run.run_id)).map((run) => run.status)).toEqual(
      Array.from({ length: 30 }, () => 'completed'),
    );
  }, 180_000);
});

describe('a freed run slot', () => {
  it("starts another member's waiting run with its first delivery, not its backed-off redelivery", async () => {
    await tenantWith('pair', { max_concurrent_runs: 1, max_queued_runs: 10 });
    const member = async (subject: string) =>
      new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('pair', { subject }));
    const alice = await member('alice');
    const bob = await member('bob');
    const first = await alice.createRun(scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 10_000 }]));
    expect(first.status).toBe(201);
    await waitForRun(alice, first.body.run_id, (run) => run.status === 'running');
    const second = await bob.createRun(quick('second'));
    expect(second.status).toBe(201);
    expect(
      await waitForRun<RunView>(
        bob,
        second.body.run_id,
        (run) => run.status_reason === 'waiting_for_run_slot',
      ),
    ).toMatchObject({ status: 'queued', status_reason: 'waiting_for_run_slot' });

    const finished = await waitForRun<RunView>(
      bob,
      second.body.run_id,
      (run) => run.status === 'completed',
      90_000,
    );
    expect(finished).toMatchObject({ status: 'completed' });
    expect((await alice.getRun(first.body.run_id)).body).toMatchObject({ status: 'completed' });
    // Woken when alice's run ended, bob's run ran its first step from a fresh message: its own
    // message, waiting for its next redelivery, would have made it a later delivery.
    const steps = await bob.request<{ data: { step: number; deliveries: number }[] }>(
      'GET',
      `/v1/runs/${second.body.run_id}/steps`,
    );
    expect(steps.body.data[0]).toMatchObject({ step: 1, deliveries: 1 });
  }, 150_000);
});

describe("an operator's stop", () => {
  it("frees the stopped run's slot: the tenant's next run starts", async () => {
    const single = await tenantWith('single', { max_concurrent_runs: 1, max_queued_runs: 10 });
    const first = await single.createRun(
      scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 60_000 }]),
    );
    expect(first.status).toBe(201);
    await waitForRun(single, first.body.run_id, (run) => run.status === 'running');
    const second = await single.createRun(quick('second'));
    expect(second.status).toBe(201);
    const waiting = await waitForRun<RunView>(
      single,
      second.body.run_id,
      (run) => run.status_reason === 'waiting_for_run_slot',
    );
    expect(waiting).toMatchObject({ status: 'queued', status_reason: 'waiting_for_run_slot' });

    const stop = await operator.request('POST', '/v1/admin/tenants/single/runs:stop', {
      body: { run_ids: [first.body.run_id], reason: 'runaway run' },
    });
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ stopped: [first.body.run_id] });
    expect((await single.getRun(first.body.run_id)).body).toMatchObject({ status: 'canceled' });

    const finished = await waitForRun<RunView>(
      single,
      second.body.run_id,
      (run) => run.status === 'completed',
      60_000,
    );
    expect(finished).toMatchObject({ status: 'completed', status_reason: null });
  }, 120_000);

  it('stops a page of runs within the request and every other run in the background when there are more than a page', async () => {
    const many = await tenantWith('many', {
      max_concurrent_runs: 1,
      max_queued_runs: 200,
      runs_per_second: 1_000,
      run_burst: 1_000,
    });
    const slow = scriptedInput('sample-agent', [{ reply: 'slow', delay_ms: 60_000 }]);
    const ids: string[] = [];
    for (let batch = 0; batch < 7; batch += 1) {
      const created = await Promise.all(Array.from({ length: 15 }, () => many.createRun(slow)));
      expect(created.map((answer) => answer.status)).toEqual(Array.from({ length: 15 }, () => 201));
      ids.push(...created.map((answer) => answer.body.run_id));
    }

    const stop = await operator.request<{ stopped: string[]; continues_in_background: boolean }>(
      'POST',
      '/v1/admin/tenants/many/runs:stop',
      { body: { all: true, reason: 'runaway tenant' } },
    );
    expect(stop.status).toBe(200);
    expect(stop.body.stopped).toHaveLength(100);
    expect(stop.body.continues_in_background).toBe(true);

    const unfinished = async () => {
      let count = 0;
      for (const status of ['queued', 'running']) {
        const page = await operator.request<{ data: unknown[] }>(
          'GET',
          `/v1/admin/tenants/many/runs?status=${status}&limit=100`,
        );
        count += page.body.data.length;
      }
      return count;
    };
    await expect.poll(unfinished, { timeout: 60_000, interval: 250 }).toBe(0);
    const statuses = new Map<string, string>();
    let cursor: string | null = null;
    do {
      const page: { body: { data: RunView[]; next_cursor: string | null } } = await operator.request(
        'GET',
        `/v1/admin/tenants/many/runs?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      for (const run of page.body.data) statuses.set(run.run_id, run.status);
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    expect(ids.map((id) => statuses.get(id))).toEqual(ids.map(() => 'canceled'));
  }, 180_000);
});
