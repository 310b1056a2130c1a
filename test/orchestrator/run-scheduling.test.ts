import { describe, expect, it } from 'vitest';
import { sampleAgent } from '../../cli/local/seed.ts';
import { DynamoAgentRegistry } from '../../functions/orchestrator/adapters/dynamodb/dynamo-agent-registry.ts';
import { DynamoRunStateStore } from '../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { AgentSpecSchema } from '../../functions/orchestrator/schemas/agent.ts';
import type { EventSinkPort } from '../../functions/orchestrator/ports/event-sink-port.ts';
import type { QueuePort, StepTask } from '../../functions/orchestrator/ports/queue-port.ts';
import type { RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { createRunService } from '../../functions/orchestrator/runtime/run-service.ts';
import { newRunId } from '../../functions/orchestrator/runtime/run-id.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

/** A queue that is down for its first `failures` sends, then records what it is given. */
class FlakyQueue implements QueuePort {
  readonly sent: StepTask[] = [];
  private failures: number;
  constructor(failures: number) {
    this.failures = failures;
  }
  async enqueueStep(_auth: unknown, task: StepTask): Promise<void> {
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('queue down');
    }
    this.sent.push(task);
  }
  async scheduleDeadline(): Promise<void> {}
}

const auth = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' as const },
  scopes: [],
  policy_context: {},
};
const body = {
  agent_id: sampleAgent.agent_id,
  input: { messages: [{ role: 'user' as const, content: 'hi' }] },
};

async function serviceWith(
  queue: QueuePort,
  options: { sink?: EventSinkPort; wrapRuns?: (runs: RunStatePort) => RunStatePort } = {},
) {
  const { resources } = await provisionTestNode('sched');
  const db = createDocumentClient(testAwsConfig());
  const agents = new DynamoAgentRegistry(db, resources.tableName);
  const { agent_id: agentId, ...spec } = sampleAgent;
  await agents.create(auth, agentId, AgentSpecSchema.parse(spec));
  const runs = new DynamoRunStateStore(db, resources.tableName);
  const reported: { what: string; error: unknown }[] = [];
  const service = createRunService({
    runs: options.wrapRuns?.(runs) ?? runs,
    queue,
    agents,
    sink: options.sink ?? { publish: async () => undefined },
    reportFailure: (what, error) => reported.push({ what, error }),
    now: () => new Date(),
    newRunId: () => newRunId(),
    idempotencyTtlSeconds: 86_400,
  });
  return { service, runs, reported };
}

describe('scheduling a run', () => {
  it('re-schedules a keyed run whose first enqueue failed when the client retries with the same key, once', async () => {
    const queue = new FlakyQueue(1);
    const { service } = await serviceWith(queue);
    await expect(service.createRun(auth, body, 'key-1')).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
    const retried = await service.createRun(auth, body, 'key-1');
    expect(retried.replayed).toBe(true);
    expect(queue.sent).toEqual([{ runId: retried.run.run_id, step: 1 }]);
    await service.createRun(auth, body, 'key-1');
    expect(queue.sent).toHaveLength(1);
  });

  it('fails a run without a key whose enqueue failed, so it never lingers as queued, and publishes its end', async () => {
    const queue = new FlakyQueue(1);
    const published: string[] = [];
    const { service, runs } = await serviceWith(queue, {
      sink: { publish: async (_auth, events) => void published.push(...events.map((event) => event.type)) },
    });
    const error = await service.createRun(auth, body, undefined).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'dependency_unavailable', details: { run_id: expect.any(String) } });
    const runId = (error as { details: { run_id: string } }).details.run_id;
    expect(await runs.getRun(auth, runId)).toMatchObject({
      status: 'failed',
      error: { code: 'dependency_unavailable' },
    });
    // Streams following the run hear of its end at once, and logs and replication see it.
    expect(published).toEqual(['run.queued', 'run.failed']);
  });

  it('throws invalid_request for an input too large to store', async () => {
    const { service } = await serviceWith(new FlakyQueue(0));
    const huge = {
      ...body,
      input: {
        messages: Array.from({ length: 4 }, () => ({ role: 'user' as const, content: 'x'.repeat(100_000) })),
      },
    };
    await expect(service.createRun(auth, huge, undefined)).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('reports, rather than swallows, a commit that could not fail an unschedulable run', async () => {
    const { service, reported } = await serviceWith(new FlakyQueue(1), {
      wrapRuns: (runs) => ({
        createRun: runs.createRun.bind(runs),
        findIdempotentRun: runs.findIdempotentRun.bind(runs),
        getRun: runs.getRun.bind(runs),
        listEvents: runs.listEvents.bind(runs),
        getEvents: runs.getEvents.bind(runs),
        readTranscript: runs.readTranscript.bind(runs),
        listSteps: runs.listSteps.bind(runs),
        listRuns: runs.listRuns.bind(runs),
        commit: () => Promise.reject(new Error('table unavailable')),
      }),
    });
    await expect(service.createRun(auth, body, undefined)).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
    expect(reported).toEqual([
      { what: 'could not fail a run that could not be scheduled', error: new Error('table unavailable') },
    ]);
  });

  it('reports, rather than swallows, events the sink could not publish, and still creates the run', async () => {
    const { service, reported } = await serviceWith(new FlakyQueue(0), {
      sink: { publish: () => Promise.reject(new Error('sink down')) },
    });
    const created = await service.createRun(auth, body, undefined);
    expect(created.run.status).toBe('queued');
    expect(reported).toEqual([{ what: 'run events not published', error: new Error('sink down') }]);
  });
});
