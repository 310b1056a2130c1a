import { DescribeExecutionCommand, GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../functions/orchestrator/ports/run-state-port.ts';
import { DependencyUnavailableError } from '../../functions/shared/errors/agentos-error.ts';
import { eventually, longAgent, startLongRunNode } from '../support/long-run-harness.ts';
import type { LongRunNode, ModelTurn } from '../support/long-run-harness.ts';

const auth = {
  tenant_id: 'acme',
  principal: { id: 'user-1', type: 'user' as const },
  scopes: [],
  policy_context: {},
};
const input = { messages: [{ role: 'user' as const, content: 'go' }] };

let node: LongRunNode | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

async function runOf(runId: string): Promise<RunRecord> {
  const run = await node?.runs.getRun(auth, runId);
  if (run === undefined) throw new Error(`run ${runId} not found`);
  return run;
}

async function settled(runId: string): Promise<RunRecord> {
  return eventually(
    () => runOf(runId),
    (run) => ['completed', 'failed', 'canceled'].includes(run.status),
  );
}

async function execution(arn: string | null) {
  if (node === undefined || arn === null) throw new Error('no execution');
  return node.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
}

async function history(arn: string | null): Promise<HistoryEvent[]> {
  if (node === undefined || arn === null) throw new Error('no execution');
  return (
    (await node.sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }))).events ??
    []
  );
}

async function eventTypes(runId: string): Promise<string[]> {
  const events = (await node?.runs.listEvents(auth, runId, { after: 0, limit: 1000 })) ?? [];
  return events.map((event) => event.type);
}

function stepDeliveries(step: number) {
  return (node?.deliveries ?? []).filter((body) => body['kind'] === 'run.step' && body['step'] === step);
}

const echoThenReply = (step: number): ModelTurn =>
  step === 1 ? { tools: [{ name: 'echo', arguments: { text: 'hi' } }] } : { reply: 'done' };

describe('a long run', () => {
  it('completes through its state machine, each step sent with a task token and answered', async () => {
    node = await startLongRunNode({ auth, agent: longAgent(), script: echoThenReply });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);

    const done = await settled(run.run_id);

    expect(done).toMatchObject({ status: 'completed', mode: 'long', steps_completed: 2 });
    const ended = await eventually(
      () => execution(done.execution_arn),
      (e) => e.status !== 'RUNNING',
    );
    expect(ended.status).toBe('SUCCEEDED');
    expect(node.deliveries.map((body) => [body['step'], typeof body['task_token']])).toEqual([
      [1, 'string'],
      [2, 'string'],
    ]);
    expect(await eventTypes(run.run_id)).toEqual([
      'run.queued',
      'run.started',
      'step.started',
      'model.requested',
      'model.completed',
      'tool.requested',
      'tool.completed',
      'step.completed',
      'step.started',
      'model.requested',
      'model.completed',
      'step.completed',
      'run.completed',
    ]);
    expect(node.reported).toEqual([]);
  });

  it('retries a step whose worker stopped heartbeating, with a new task token, and completes', async () => {
    // The first delivery of step 1 goes to a worker that dies: no heartbeat, no answer.
    node = await startLongRunNode({
      auth,
      agent: longAgent(),
      script: echoThenReply,
      heartbeatSeconds: 1,
      intercept: (body) => body['kind'] === 'run.step' && body['step'] === 1 && body['attempt'] === 0,
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);

    const done = await settled(run.run_id);

    expect(done.status).toBe('completed');
    const attempts = stepDeliveries(1);
    expect(attempts.map((body) => body['attempt'])).toEqual([0, 1]);
    expect(attempts[0]?.['task_token']).not.toEqual(attempts[1]?.['task_token']);
    expect((await history(done.execution_arn)).map((event) => event.type)).toContain('TaskTimedOut');
  });

  it('fails with step_timeout once every attempt of a step stopped heartbeating', async () => {
    node = await startLongRunNode({
      auth,
      agent: longAgent(),
      script: echoThenReply,
      heartbeatSeconds: 1,
      intercept: (body) => body['kind'] === 'run.step',
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);

    const done = await settled(run.run_id);

    expect(done).toMatchObject({ status: 'failed', error: { code: 'step_timeout' } });
    expect(done.error?.message).toContain('Step 1');
    expect(stepDeliveries(1).map((body) => body['attempt'])).toEqual([0, 1, 2]);
    expect(
      (
        await eventually(
          () => execution(done.execution_arn),
          (e) => e.status !== 'RUNNING',
        )
      ).status,
    ).toBe('FAILED');
  });

  it('retries a step whose model is down with backoff, then fails with the reason', async () => {
    node = await startLongRunNode({
      auth,
      agent: longAgent({ on_model_error: { action: 'retry', max_attempts: 3, backoff_ms: 0 } }),
      script: () => ({ throws: new DependencyUnavailableError('The model is unreachable') }),
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);

    const done = await settled(run.run_id);

    expect(done).toMatchObject({ status: 'failed', error: { code: 'dependency_unavailable' } });
    expect(stepDeliveries(1).map((body) => body['attempt'])).toEqual([0, 1, 2]);
  });

  it('waits in its state machine longer than the step worker may run, then goes on', async () => {
    const workerTimeoutSeconds = 1;
    const waitSeconds = 3;
    node = await startLongRunNode({
      auth,
      agent: longAgent(),
      workerTimeoutSeconds,
      script: (step) =>
        step === 1 ? { tools: [{ name: 'wait', arguments: { seconds: waitSeconds } }] } : { reply: 'done' },
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);

    const done = await settled(run.run_id);

    expect(done).toMatchObject({ status: 'completed', steps_completed: 2 });
    const waits = (await history(done.execution_arn)).filter(
      (event) => event.type === 'WaitStateEntered' && event.stateEnteredEventDetails?.name === 'Pause',
    );
    expect(waits).toHaveLength(1);
    const pause = JSON.parse(waits[0]?.stateEnteredEventDetails?.input ?? '{}') as {
      result: { continuation: { waitSeconds: number } };
    };
    expect(pause.result.continuation.waitSeconds).toBe(waitSeconds);
    expect(pause.result.continuation.waitSeconds).toBeGreaterThan(workerTimeoutSeconds);
  });
});

describe('canceling a long run', () => {
  it('stops its execution while it waits: the run ends canceled and no later step runs', async () => {
    node = await startLongRunNode({
      auth,
      agent: longAgent(),
      script: (step) =>
        step === 1 ? { tools: [{ name: 'wait', arguments: { seconds: 300 } }] } : { reply: 'done' },
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);
    const waiting = await eventually(
      () => runOf(run.run_id),
      (r) => r.steps_completed === 1,
    );
    await eventually(
      async () => (await history(waiting.execution_arn)).some((event) => event.type === 'WaitStateEntered'),
      (entered) => entered,
    );

    const canceled = await node.service.cancelRun(auth, run.run_id);

    expect(canceled.status).toBe('canceled');
    expect((await execution(waiting.execution_arn)).status).toBe('ABORTED');
    expect((await eventTypes(run.run_id)).at(-1)).toBe('run.canceled');
    expect(stepDeliveries(2)).toEqual([]);
    expect(node.reported).toEqual([]);
  });

  it('ends a step in flight quietly: the run stays canceled and nothing is reported', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    node = await startLongRunNode({
      auth,
      agent: longAgent(),
      heartbeatSeconds: 1,
      script: async (step) => {
        started();
        await released;
        return echoThenReply(step);
      },
    });
    const { run } = await node.service.createRun(auth, { agent_id: 'long-agent', input }, undefined);
    await inFlight;

    await node.service.cancelRun(auth, run.run_id);
    const arn = (await runOf(run.run_id)).execution_arn;
    expect((await execution(arn)).status).toBe('ABORTED');
    release();

    await eventually(
      async () => node?.processed() ?? 0,
      (count) => count >= 1,
    );
    expect(node.deliveries).toHaveLength(1);
    expect(await runOf(run.run_id)).toMatchObject({ status: 'canceled', steps_completed: 0 });
    expect((await eventTypes(run.run_id)).at(-1)).toBe('run.canceled');
    expect(node.reported).toEqual([]);
  });
});

describe('a poison step message', () => {
  it('reaches the dead-letter queue within its receive limit and fails the run it names', async () => {
    node = await startLongRunNode({ auth, agent: longAgent(), script: echoThenReply });
    const created = await node.runs.createRun(
      auth,
      {
        run_id: 'run_poisoned',
        tenant_id: auth.tenant_id,
        agent_id: 'long-agent',
        agent_version: 1,
        mode: 'standard',
        execution_arn: null,
        principal_id: auth.principal.id,
        status: 'queued',
        input,
        output: null,
        error: null,
        metadata: {},
        transcript: [],
        transcript_messages: 0,
        transcript_bytes: 0,
        steps_completed: 0,
        last_sequence: 0,
        usage: { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        started_at: null,
        ended_at: null,
        scheduled_at: null,
      } as RunRecord,
      [],
    );
    expect(created.outcome).toBe('created');
    const poison = JSON.stringify({ kind: 'run.step', run_id: 'run_poisoned', step: 'one', auth });
    await node.sqs.send(
      new SendMessageCommand({ QueueUrl: node.resources.stepQueueUrl, MessageBody: poison }),
    );
    await node.sqs.send(
      new SendMessageCommand({ QueueUrl: node.resources.stepQueueUrl, MessageBody: 'not json' }),
    );

    const failed = await settled('run_poisoned');
    const deadLetters: string[] = [];
    await eventually(
      async () => {
        const received = await node?.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: node.resources.stepDeadLetterQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
        );
        deadLetters.push(...(received?.Messages ?? []).map((message) => message.Body ?? ''));
        return deadLetters.length;
      },
      (count) => count >= 2,
      30_000,
    );

    expect(failed).toMatchObject({ status: 'failed', error: { code: 'invalid_step_message' } });
    expect(deadLetters.sort()).toEqual([poison, 'not json'].sort());
    const receives = node.deliveries.filter((body) => body['run_id'] === 'run_poisoned' || 'invalid' in body);
    expect(receives).toHaveLength(10);
  });
});
