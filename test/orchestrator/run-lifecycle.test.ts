import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { threeStepRunInput } from '../../cli/client/three-step-run.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { allEvents, scriptedInput, waitForRun } from '../support/run-events.ts';

let node: TestNode;
let client: AgentOsClient;

async function queueIsDrained(queueUrl = node.resources.stepQueueUrl): Promise<void> {
  const sqs = new SQSClient(testAwsConfig());
  for (let i = 0; i < 200; i += 1) {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    if (
      Attributes?.['ApproximateNumberOfMessages'] === '0' &&
      Attributes['ApproximateNumberOfMessagesNotVisible'] === '0'
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the queue ${queueUrl} did not drain`);
}

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  client = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('acme'));
});

afterAll(async () => {
  await node.stop();
});

describe('a run end to end', () => {
  it('streams a three-step run to run.completed over SSE with gapless sequences', async () => {
    const created = await client.createRun(threeStepRunInput('sample-agent', 'e2e'));
    expect(created.status).toBe(201);
    const frames = [];
    for await (const frame of client.streamEvents(created.body.run_id, {
      signal: AbortSignal.timeout(30_000),
    }))
      frames.push(frame);
    expect(frames[0]).toEqual({ kind: 'retry', ms: expect.any(Number) });
    const events = frames.filter((f) => f.kind === 'event');
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.event);
    expect(types.slice(0, 3)).toEqual(['run.queued', 'run.started', 'step.started']);
    expect(types.at(-1)).toBe('run.completed');
    expect(types.filter((t) => t === 'step.completed')).toHaveLength(3);
    expect(types.filter((t) => t === 'tool.completed')).toHaveLength(2);
    const parsed = events.map(
      (e) =>
        JSON.parse(e.data) as {
          event_id: string;
          sequence: number;
          type: string;
          data: Record<string, unknown>;
        },
    );
    expect(new Set(parsed.map((e) => e.event_id)).size).toBe(parsed.length);
    expect(parsed.every((e, i) => e.sequence === i + 1 && e.type === types[i])).toBe(true);
    const completed = parsed.at(-1)!;
    expect(completed.data).toMatchObject({
      status: 'completed',
      output: { message: { role: 'assistant', content: 'e2e done' } },
    });
    const toolOutputs = parsed.filter((e) => e.type === 'tool.completed').map((e) => e.data['output']);
    expect(toolOutputs).toEqual(['e2e one', 'e2e two']);
    const run = await client.getRun(created.body.run_id);
    expect(run.body).toMatchObject({ status: 'completed', steps_completed: 3, last_sequence: events.length });
  });

  it('gives a reconnecting client exactly the rest of the stream after Last-Event-ID', async () => {
    const created = await client.createRun(threeStepRunInput('sample-agent', 'reconnect'));
    const runId = created.body.run_id;
    const firstPart: number[] = [];
    const controller = new AbortController();
    for await (const frame of client.streamEvents(runId, { signal: controller.signal })) {
      if (frame.kind !== 'event') continue;
      firstPart.push(Number(frame.id));
      if (firstPart.length === 4) {
        controller.abort();
        break;
      }
    }
    const rest: number[] = [];
    for await (const frame of client.streamEvents(runId, {
      lastEventId: 4,
      signal: AbortSignal.timeout(30_000),
    })) {
      if (frame.kind === 'event') rest.push(Number(frame.id));
    }
    const stored = await allEvents(client, runId);
    expect(firstPart).toEqual([1, 2, 3, 4]);
    expect([...firstPart, ...rest]).toEqual(stored.map((e) => e.sequence));
    expect(stored.at(-1)?.type).toBe('run.completed');
  });

  it('never duplicates events when step messages are redelivered, during or after the run', async () => {
    const created = await client.createRun(threeStepRunInput('sample-agent', 'redeliver'));
    const runId = created.body.run_id;
    const sqs = new SQSClient(testAwsConfig());
    const auth = {
      tenant_id: 'acme',
      principal: { id: 'user-acme', type: 'user' },
      scopes: ['runs:write', 'runs:read', 'models:invoke'],
      policy_context: {},
    };
    const duplicate = (step: number) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl: node.resources.stepQueueUrl,
          MessageBody: JSON.stringify({ kind: 'run.step', run_id: runId, step, auth }),
        }),
      );
    await Promise.all([duplicate(1), duplicate(1)]);
    const run = await waitForRun(client, runId, (r) => r.status === 'completed');
    expect(run.status).toBe('completed');
    await Promise.all([duplicate(1), duplicate(2), duplicate(3)]);
    await queueIsDrained();
    const events = await allEvents(client, runId);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'step.started')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('run.completed');
  });

  it('cancels a run mid-step: it ends canceled and no further step runs', async () => {
    const created = await client.createRun(
      scriptedInput('sample-agent', [
        { tool_calls: [{ name: 'echo', arguments: { text: 'slow' } }], delay_ms: 1500 },
        { reply: 'never' },
      ]),
    );
    const runId = created.body.run_id;
    // Cancel while the model call is in flight.
    for await (const frame of client.streamEvents(runId, { signal: AbortSignal.timeout(30_000) })) {
      if (frame.kind === 'event' && frame.event === 'model.requested') break;
    }
    const canceled = await client.cancelRun(runId);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    await queueIsDrained();
    const events = await allEvents(client, runId);
    expect(events.at(-1)?.type).toBe('run.canceled');
    expect(events.filter((e) => e.type === 'step.started').map((e) => e.data['step'])).toEqual([1]);
    expect(events.some((e) => ['model.completed', 'tool.requested', 'step.completed'].includes(e.type))).toBe(
      false,
    );
    expect((await client.getRun(runId)).body.status).toBe('canceled');
  });

  it('refuses to cancel a finished run with 409 and writes nothing', async () => {
    const created = await client.createRun(scriptedInput('sample-agent', [{ reply: 'quick' }]));
    const run = await waitForRun<{ status: string; last_sequence: number }>(
      client,
      created.body.run_id,
      (r) => r.status === 'completed',
    );
    const refused = await client.cancelRun(created.body.run_id);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'conflict', details: { status: 'completed' } } });
    const after = await client.getRun(created.body.run_id);
    expect(after.body).toMatchObject({ status: 'completed', last_sequence: run.last_sequence });
  });

  it("answers a tool call outside the agent's tool list with an error result, without running it", async () => {
    await node.seed('acme', { agent_id: 'echo-only', tool_ids: ['echo'] });
    const created = await client.createRun(
      scriptedInput('echo-only', [
        { tool_calls: [{ name: 'remember', arguments: { key: 'k', value: 'v' } }] },
        { tool_calls: [{ name: 'not a tool!', arguments: {} }] },
        { reply: 'ok' },
      ]),
    );
    await waitForRun(client, created.body.run_id, (r) => r.status === 'completed');
    const results = (await allEvents(client, created.body.run_id)).filter((e) => e.type === 'tool.completed');
    expect(results.map((e) => [e.data['name'], e.data['is_error']])).toEqual([
      ['remember', true],
      ['not a tool!', true],
    ]);
    expect(results[0]?.data['output']).toContain('not available to this agent');
  });

  it('fails a run whose model call the Model Policy rejects, with the error in run.failed', async () => {
    const created = await client.createRun(scriptedInput('sample-agent', [{ error: 'invalid_request' }]));
    const run = await waitForRun<{ status: string; error: { code: string } | null }>(
      client,
      created.body.run_id,
      (r) => r.status === 'failed',
    );
    expect(run.status).toBe('failed');
    expect(run.error?.code).toBe('invalid_request');
    const events = await allEvents(client, created.body.run_id);
    expect(events.at(-1)).toMatchObject({ type: 'run.failed', data: { error: { code: 'invalid_request' } } });
  });

  it('fails a run that outlives its agent timeout with run_timeout, through the deadline queue and no Step Functions execution', async () => {
    await node.seed('acme', { agent_id: 'impatient', timeout_seconds: 2 });
    const created = await client.createRun(
      scriptedInput('impatient', [{ reply: 'too late', delay_ms: 8000 }]),
    );
    const run = await waitForRun<{ status: string; error: { code: string } | null }>(
      client,
      created.body.run_id,
      (r) => r.status === 'failed',
      30_000,
    );
    expect(run.error?.code).toBe('run_timeout');
    await queueIsDrained();
    await queueIsDrained(node.resources.deadlineQueueUrl);
    const events = await allEvents(client, created.body.run_id);
    expect(events.at(-1)?.type).toBe('run.failed');
    expect(events.some((e) => e.type === 'model.completed')).toBe(false);
    // A deadline within SQS's 15-minute delay is one delayed message, not an execution (HLD §4.3).
    const sfn = new SFNClient(testAwsConfig());
    const { executions = [] } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: node.resources.stateMachineArn }),
    );
    sfn.destroy();
    expect(executions.map((e) => e.name)).not.toContain(created.body.run_id);
  });

  it('records each Model Policy fallback hop as a model.fallback event of the run', async () => {
    await node.seed('acme', { agent_id: 'tiered', model_ref: 'tier:default', tool_ids: [] });
    const created = await client.createRun(
      scriptedInput('tiered', [{ error: 'server_error' }], 'fall back please'),
    );
    await waitForRun(client, created.body.run_id, (r) => r.status === 'completed');
    const events = await allEvents(client, created.body.run_id);
    const fallback = events.find((e) => e.type === 'model.fallback');
    expect(fallback?.data).toMatchObject({ step: 1, model: 'local/scripted', reason: 'server_error' });
    const completed = events.find((e) => e.type === 'model.completed');
    expect(completed?.data).toMatchObject({
      route: {
        model_ref: 'tier:default',
        model: 'local/echo',
        hops: [{ outcome: 'fallback' }, { outcome: 'ok' }],
      },
    });
    expect(events.indexOf(fallback!)).toBeLessThan(events.indexOf(completed!));
  });

  it('keeps another tenant out of the stream of a running run', async () => {
    const created = await client.createRun(threeStepRunInput('sample-agent', 'private'));
    const intruder = new AgentOsClient(node.node.orchestratorUrl, await node.auth.token('globex'));
    await expect(async () => {
      for await (const frame of intruder.streamEvents(created.body.run_id)) void frame;
    }).rejects.toThrow(/answered 404/);
  });
});
