import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { operatorClient, startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

/**
 * An operator disables a tenant while its runs go (HLD §5.2, the kill switch), over real HTTP: its
 * open event stream ends with `run.canceled` naming the reason, its waiting run ends canceled, its
 * tokens are refused until it is enabled again. The node reads tenants afresh on every request here.
 */
let node: TestNode;
let operator: AgentOsClient;

type RunView = { run_id: string; status: string; status_reason: string | null };

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { AGENTOS_TENANT_CACHE_SECONDS: '0' } });
  operator = await operatorClient(node);
});

afterAll(async () => {
  await node.stop();
});

describe('disabling a tenant mid-run', () => {
  it('ends its open stream with run.canceled and the reason, cancels its queued run, and refuses it until it is enabled', async () => {
    await node.seed('wayward');
    const patched = await operator.request('PATCH', '/v1/admin/tenants/wayward', {
      body: { quotas: { max_concurrent_runs: 1, max_queued_runs: 10 } },
    });
    expect(patched.status).toBe(200);
    const tenant = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('wayward'));

    const running = await tenant.createRun(
      scriptedInput('sample-agent', [{ reply: 'never seen', delay_ms: 60_000 }]),
    );
    expect(running.status).toBe(201);
    const runningId = running.body.run_id;
    const events: { event: string; data: Record<string, unknown> }[] = [];
    let started!: () => void;
    const modelCalled = new Promise<void>((resolve) => (started = resolve));
    const stream = (async () => {
      for await (const frame of tenant.streamEvents(runningId, { signal: AbortSignal.timeout(60_000) })) {
        if (frame.kind !== 'event') continue;
        const parsed = JSON.parse(frame.data) as { data: Record<string, unknown> };
        events.push({ event: frame.event, data: parsed.data });
        if (frame.event === 'model.requested') started();
      }
    })();
    await modelCalled;

    const queued = await tenant.createRun(scriptedInput('sample-agent', [{ reply: 'waits' }]));
    expect(queued.status).toBe(201);
    const waiting = await waitForRun<RunView>(
      tenant,
      queued.body.run_id,
      (run) => run.status_reason === 'waiting_for_run_slot',
    );
    expect(waiting.status).toBe('queued');

    const disabled = await operator.request<{ status: string; stopped_runs: string[] }>(
      'POST',
      '/v1/admin/tenants/wayward:disable',
      { body: { reason: 'abuse report 42' } },
    );
    expect(disabled.status).toBe(200);
    expect(disabled.body.status).toBe('disabled');
    expect([...disabled.body.stopped_runs].sort()).toEqual([runningId, queued.body.run_id].sort());

    await stream;
    const last = events.at(-1);
    expect(last?.event).toBe('run.canceled');
    expect(last?.data).toMatchObject({ status: 'canceled' });
    expect(String(last?.data['reason'])).toContain('abuse report 42');

    const runs = await operator.request<{ data: RunView[] }>('GET', '/v1/admin/tenants/wayward/runs');
    expect(Object.fromEntries(runs.body.data.map((run) => [run.run_id, run.status]))).toEqual({
      [runningId]: 'canceled',
      [queued.body.run_id]: 'canceled',
    });

    const refused = await tenant.request<{ error: { code: string; details?: { reason?: string } } }>(
      'GET',
      '/v1/runs',
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'tenant_disabled' } });
    expect((await tenant.createRun(scriptedInput('sample-agent', [{ reply: 'no' }]))).status).toBe(403);

    const enabled = await operator.request<{ status: string }>('POST', '/v1/admin/tenants/wayward:enable');
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe('active');
    const again = await tenant.createRun(scriptedInput('sample-agent', [{ reply: 'welcome back' }]));
    expect(again.status).toBe(201);
    const finished = await waitForRun<RunView>(
      tenant,
      again.body.run_id,
      (run) => run.status === 'completed',
    );
    expect(finished.status).toBe('completed');
  }, 120_000);
});
