import { describe, expect, it } from 'vitest';
import { InMemoryAgentRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-agent-registry.ts';
import { InMemoryRunDriver } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { InMemoryStepQueue } from '../../../functions/orchestrator/adapters/in-memory/in-memory-step-queue.ts';
import { newRunId } from '../../../functions/orchestrator/runtime/run-id.ts';
import { createRunService } from '../../../functions/orchestrator/runtime/run-service.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { agentDefinition } from '../../support/agent-definitions.ts';

const member = (id: string, extra: string[] = []): AuthContext => ({
  tenant_id: 'acme',
  principal: { id, type: 'user' },
  scopes: ['runs:read', 'runs:write', ...extra],
  policy_context: {},
});
const body = { agent_id: 'helper', input: { messages: [{ role: 'user' as const, content: 'hi' }] } };

async function service() {
  const runs = new InMemoryRunStateStore();
  const agents = new InMemoryAgentRegistry();
  await agents.put(
    member('admin'),
    agentDefinition({ agent_id: 'helper', model_ref: 'local/scripted', version: 3, run_mode: 'long' }),
  );
  const driver = new InMemoryRunDriver();
  let tick = Date.parse('2026-02-01T00:00:00.000Z');
  const svc = createRunService({
    runs,
    queue: new InMemoryStepQueue(),
    driver,
    agents,
    sink: { publish: async () => undefined },
    reportFailure: (what, error) => {
      throw new Error(`${what}: ${String(error)}`);
    },
    // Each run a second after the last, so "newest first" is well defined.
    now: () => new Date((tick += 1000)),
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: 86_400,
  });
  return { svc, runs, agents, driver };
}

describe('the run service', () => {
  it('records the agent version and run mode a run was created with', async () => {
    const { svc } = await service();
    const { run } = await svc.createRun(member('alice'), body, undefined);
    expect(run).toMatchObject({ agent_version: 3, mode: 'long', status: 'queued' });
  });

  it('starts one execution for a long run, records it on the run, and stops it when the run is canceled', async () => {
    const { svc, runs, driver } = await service();
    const { run } = await svc.createRun(member('alice'), body, 'key-1');
    await svc.createRun(member('alice'), body, 'key-1');
    const [execution] = driver.executions();
    expect(driver.executions()).toHaveLength(1);
    expect(execution).toMatchObject({ runId: run.run_id, status: 'RUNNING', step: 1 });
    expect((await runs.getRun(member('alice'), run.run_id))?.execution_arn).toBe(execution?.executionArn);
    await svc.cancelRun(member('alice'), run.run_id);
    expect(driver.execution(execution!.executionArn)).toMatchObject({
      status: 'ABORTED',
      stopReason: 'canceled',
    });
  });

  it('replays an idempotent creation after its agent was deleted, and still refuses another body', async () => {
    const { svc, agents } = await service();
    const first = await svc.createRun(member('alice'), body, 'key-1');
    await agents.delete(member('admin'), 'helper');
    const replay = await svc.createRun(member('alice'), body, 'key-1');
    expect(replay).toMatchObject({ replayed: true, run: { run_id: first.run.run_id } });
    await expect(
      svc.createRun(member('alice'), { ...body, metadata: { other: 'yes' } }, 'key-1'),
    ).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    await expect(svc.createRun(member('alice'), body, 'key-2')).rejects.toMatchObject({ code: 'not_found' });
  });

  it("lists a member's own runs newest first, and every run of the tenant with runs:read:all", async () => {
    const { svc } = await service();
    const a1 = await svc.createRun(member('alice'), body, undefined);
    const b1 = await svc.createRun(member('bob'), body, undefined);
    const a2 = await svc.createRun(member('alice'), body, undefined);
    await svc.cancelRun(member('alice'), a1.run.run_id);
    const own = await svc.listRuns(member('alice'), { limit: 10 });
    expect(own.runs.map((r) => r.run_id)).toEqual([a2.run.run_id, a1.run.run_id]);
    const all = await svc.listRuns(member('carol', ['runs:read:all']), { limit: 2 });
    expect(all.runs.map((r) => r.run_id)).toEqual([a2.run.run_id, b1.run.run_id]);
    const rest = await svc.listRuns(member('carol', ['runs:read:all']), {
      limit: 2,
      cursor: all.nextCursor!,
    });
    expect(rest).toMatchObject({ runs: [{ run_id: a1.run.run_id }], nextCursor: null });
    const canceled = await svc.listRuns(member('alice'), { limit: 10, status: 'canceled' });
    expect(canceled.runs.map((r) => r.run_id)).toEqual([a1.run.run_id]);
  });

  it("throws not_found for the steps of another member's run, as for its run", async () => {
    const { svc } = await service();
    const { run } = await svc.createRun(member('alice'), body, undefined);
    expect(await svc.listSteps(member('alice'), run.run_id, 0, 10)).toEqual([]);
    await expect(svc.listSteps(member('bob'), run.run_id, 0, 10)).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await svc.listSteps(member('bob', ['runs:read:all']), run.run_id, 0, 10)).toEqual([]);
  });
});
