import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import { defaultTenantScopes } from '../../functions/shared/auth/auth-context.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../support/run-events.ts';

type Page<T> = { object: 'list'; data: T[]; next_cursor: string | null };
type Step = {
  step: number;
  status: string;
  model: { model_ref: string; provider: string | null; model: string | null; finish_reason: string | null };
  tool_calls: { name: string; arguments: string; attempts: { output: string; is_error: boolean }[] }[];
};

let node: TestNode;
let alice: AgentOsClient;
let runId: string;

const clientFor = async (tenant: string, subject: string, scopes: string[] = [...defaultTenantScopes]) =>
  new AgentOsClient(node.node.orchestratorUrl, await node.auth.token(tenant, { subject, scopes }));

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  alice = await clientFor('acme', 'alice');
  const created = await alice.createRun(threeStepRunInput('sample-agent', 'steps'));
  runId = created.body.run_id;
  await waitForRun(alice, runId, (r) => r.status === 'completed');
});

afterAll(async () => {
  await node.stop();
});

describe('GET /v1/runs/{run_id}/steps', () => {
  it("returns each step of a finished run: the model's answer and the tool calls with their results", async () => {
    const page = await alice.request<Page<Step>>('GET', `/v1/runs/${runId}/steps`);
    expect(page.status).toBe(200);
    expect(page.body.next_cursor).toBeNull();
    expect(page.body.data.map((s) => [s.step, s.status, s.model.finish_reason])).toEqual([
      [1, 'completed', 'tool_calls'],
      [2, 'completed', 'tool_calls'],
      [3, 'completed', 'stop'],
    ]);
    expect(page.body.data[0]).toMatchObject({
      model: { model_ref: 'local/scripted', provider: 'local', model: 'local/scripted' },
      tool_calls: [
        {
          name: 'echo',
          arguments: JSON.stringify({ text: 'steps one' }),
          attempts: [{ output: 'steps one', is_error: false }],
        },
      ],
    });
  });

  it('pages with limit and next_cursor', async () => {
    const first = await alice.request<Page<Step>>('GET', `/v1/runs/${runId}/steps?limit=2`);
    expect(first.body.data.map((s) => s.step)).toEqual([1, 2]);
    const rest = await alice.request<Page<Step>>(
      'GET',
      `/v1/runs/${runId}/steps?limit=2&cursor=${first.body.next_cursor ?? ''}`,
    );
    expect(rest.body).toMatchObject({ data: [{ step: 3 }], next_cursor: null });
  });

  it("answers 404 for another member's run and for another tenant's, as for the run itself", async () => {
    const bob = await clientFor('acme', 'bob');
    const intruder = await clientFor('globex', 'alice');
    for (const client of [bob, intruder]) {
      const steps = await client.request('GET', `/v1/runs/${runId}/steps`);
      expect(steps.status).toBe(404);
      expect((await client.request('GET', `/v1/runs/${runId}`)).status).toBe(404);
    }
  });
});

describe('GET /v1/runs', () => {
  it('lists the caller’s runs newest first; runs:read:all lists the tenant’s; status filters', async () => {
    const bob = await clientFor('acme', 'bob');
    // Its model answers after 5 s, so the cancel always lands before the run could complete.
    const bobs = await bob.createRun(scriptedInput('sample-agent', [{ reply: 'late', delay_ms: 5_000 }]));
    expect((await bob.cancelRun(bobs.body.run_id)).body).toMatchObject({ status: 'canceled' });
    const own = await alice.request<Page<{ run_id: string; agent_version: number }>>('GET', '/v1/runs');
    expect(own.status).toBe(200);
    expect(own.body.data.map((r) => r.run_id)).toEqual([runId]);
    expect(own.body.data[0]?.agent_version).toBe(1);
    const admin = await clientFor('acme', 'carol', [...defaultTenantScopes, 'runs:read:all']);
    const all = await admin.request<Page<{ run_id: string }>>('GET', '/v1/runs?limit=1');
    expect(all.body.data.map((r) => r.run_id)).toEqual([bobs.body.run_id]);
    const next = await admin.request<Page<{ run_id: string }>>(
      'GET',
      `/v1/runs?limit=1&cursor=${all.body.next_cursor ?? ''}`,
    );
    expect(next.body).toMatchObject({ data: [{ run_id: runId }], next_cursor: null });
    const canceled = await admin.request<Page<{ run_id: string }>>('GET', '/v1/runs?status=canceled');
    expect(canceled.body.data.map((r) => r.run_id)).toEqual([bobs.body.run_id]);
    const other = await clientFor('globex', 'alice');
    expect((await other.request<Page<unknown>>('GET', '/v1/runs')).body.data).toEqual([]);
  });

  it('answers 400 for a malformed cursor, a limit out of range or an unknown status', async () => {
    for (const query of ['cursor=nope', 'limit=0', 'limit=101', 'status=paused']) {
      const answer = await alice.request<{ error: { code: string } }>('GET', `/v1/runs?${query}`);
      expect([query, answer.status, answer.body.error.code]).toEqual([query, 400, 'invalid_request']);
    }
  });
});
