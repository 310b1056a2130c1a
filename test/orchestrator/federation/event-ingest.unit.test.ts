import { describe, expect, it } from 'vitest';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { createEventIngest } from '../../../functions/orchestrator/federation/event-ingest.ts';
import { IngestEventsRequestSchema } from '../../../functions/orchestrator/federation/schemas/event-ingest.ts';
import type { RunRecord } from '../../../functions/orchestrator/ports/run-state-port.ts';
import { queuedRunRecord } from '../../../functions/orchestrator/runtime/queued-run-record.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';

/**
 * The receiving side of event replication (HLD §7.4) on the in-memory store: east-1 forwarded a run
 * of tenant acme to west-1, and west-1 sends that run's events back, repeated, out of order and with
 * gaps, as at-least-once delivery may.
 */

const peerAuth = (tenant = 'acme', peer = 'west-1'): AuthContext => ({
  tenant_id: tenant,
  principal: { id: `peer/${peer}/replicator`, type: 'service' },
  scopes: ['federation:ingest'],
  policy_context: { peer_id: peer },
});
const owner: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'alice', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};

const localRun = 'run_0000000000000000000000loca';
const remoteRun = 'run_0000000000000000000000remo';
const at = '2026-12-04T10:00:00.000Z';

function record(runId: string, federation: RunRecord['federation']): RunRecord {
  const owner: AuthContext = {
    tenant_id: 'acme',
    principal: { id: 'alice', type: 'user' },
    scopes: ['runs:write'],
    policy_context: {},
  };
  const body = { agent_id: 'sample-agent', input: { messages: [{ role: 'user' as const, content: 'hi' }] } };
  return {
    ...queuedRunRecord(owner, body, at, {
      run_id: runId,
      agent_version: 1,
      mode: 'standard',
      scheduled_at: null,
    }),
    ...(federation === undefined ? {} : { federation }),
  };
}

/** The events west-1 holds for its run, numbered as there, each naming east-1's run. */
const remote: RunEvent[] = [
  { type: 'run.queued', data: { agent_id: 'sample-agent', status: 'queued' } },
  { type: 'run.started', data: { status: 'running' } },
  { type: 'step.started', data: { step: 1 } },
  { type: 'step.completed', data: { step: 1, finish_reason: 'stop' } },
  {
    type: 'run.completed',
    data: { status: 'completed', output: { message: { role: 'assistant', content: 'hello' } } },
  },
].map((event, index) => ({
  object: 'event' as const,
  event_id: `${remoteRun}:e${index + 1}`,
  run_id: localRun,
  sequence: index + 1,
  time: `2026-12-04T10:00:0${index + 1}.000Z`,
  ...(event as Pick<RunEvent, 'type' | 'data'>),
}));

async function setup() {
  const runs = new InMemoryRunStateStore();
  await runs.createRun(
    owner,
    record(localRun, {
      origin_node_id: 'east-1',
      node_id: 'west-1',
      remote_run_id: remoteRun,
      remote_events_url: null,
    }),
    [],
  );
  const published: RunEvent[] = [];
  const ingest = createEventIngest({
    runs,
    sink: { publish: async (_auth, events) => void published.push(...events) },
    reportFailure: () => undefined,
  });
  const send = (events: RunEvent[], auth = peerAuth(), source = 'west-1') =>
    ingest.ingest(auth, String(auth.policy_context['peer_id']), { source_node_id: source, events });
  const stored = async () => runs.listEvents(owner, localRun, { after: 0, limit: 100 });
  return { runs, send, stored, published };
}

describe('event ingest', () => {
  it('returns what it accepted and the next sequence, storing the events in order with their node', async () => {
    const { send, stored, runs } = await setup();
    const answer = await send(remote.slice(0, 3));
    expect(answer).toEqual({
      object: 'federation.events_ingested',
      accepted: 3,
      duplicates: 0,
      deferred: 0,
      runs: [{ run_id: localRun, contiguous_sequence: 3, next_sequence: 4 }],
    });
    const events = await stored();
    expect(events.map((event) => [event.sequence, event.type, event.node_id, event.time])).toEqual([
      [1, 'run.queued', 'west-1', remote[0]!.time],
      [2, 'run.started', 'west-1', remote[1]!.time],
      [3, 'step.started', 'west-1', remote[2]!.time],
    ]);
    expect(await runs.getRun(owner, localRun)).toMatchObject({
      status: 'running',
      started_at: remote[1]!.time,
      replicated_sequence: 3,
    });
  });

  it('adds up the usage of the model answers it stores', async () => {
    const { send, runs } = await setup();
    const answered = (sequence: number, tokens: number): RunEvent => ({
      object: 'event',
      event_id: `${remoteRun}:m${sequence}`,
      run_id: localRun,
      sequence,
      time: at,
      type: 'model.completed',
      data: {
        step: 1,
        request_id: 'r',
        message: { role: 'assistant', content: 'x' },
        finish_reason: 'stop',
        usage: { prompt_tokens: tokens, completion_tokens: 1, total_tokens: tokens + 1, cost_usd: 0.5 },
        route: {},
        policy: {},
      },
    });
    await send([...remote.slice(0, 2), answered(3, 10), answered(4, 5)]);
    expect((await runs.getRun(owner, localRun))?.usage).toEqual({
      prompt_tokens: 15,
      completion_tokens: 2,
      cost_usd: 1,
    });
  });

  it('drops a repeated batch and repeated events within a batch', async () => {
    const { send, stored } = await setup();
    await send(remote.slice(0, 2));
    const again = await send([remote[0]!, remote[1]!, remote[1]!, remote[2]!]);
    expect(again).toMatchObject({ accepted: 1, duplicates: 3, deferred: 0 });
    expect(again.runs[0]).toMatchObject({ contiguous_sequence: 3, next_sequence: 4 });
    expect((await stored()).map((event) => event.event_id)).toEqual(
      remote.slice(0, 3).map((e) => e.event_id),
    );
  });

  it('stores an out-of-order batch in sequence order', async () => {
    const { send, stored, runs } = await setup();
    const answer = await send([...remote].reverse());
    expect(answer).toMatchObject({ accepted: 5, duplicates: 0, deferred: 0 });
    expect((await stored()).map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
    expect(await runs.getRun(owner, localRun)).toMatchObject({
      status: 'completed',
      output: { message: { role: 'assistant', content: 'hello' } },
      steps_completed: 1,
      ended_at: remote[4]!.time,
    });
  });

  it('defers events past a gap and names the sequence to resend from, then closes the gap', async () => {
    const { send, stored } = await setup();
    const gapped = await send([remote[0]!, remote[3]!, remote[4]!]);
    expect(gapped).toMatchObject({ accepted: 1, deferred: 2 });
    expect(gapped.runs[0]).toMatchObject({ contiguous_sequence: 1, next_sequence: 2 });
    expect((await stored()).map((event) => event.sequence)).toEqual([1]);

    const onlyAfterGap = await send([remote[4]!]);
    expect(onlyAfterGap).toMatchObject({ accepted: 0, deferred: 1 });
    expect(onlyAfterGap.runs[0]).toMatchObject({ next_sequence: 2 });

    const resent = await send(remote.slice(1));
    expect(resent).toMatchObject({ accepted: 4, duplicates: 0, deferred: 0 });
    expect((await stored()).map((event) => event.type)).toEqual(remote.map((event) => event.type));
  });

  it('returns the same complete log from concurrent overlapping deliveries', async () => {
    const { send, stored } = await setup();
    await Promise.all([
      send(remote.slice(0, 3)),
      send(remote),
      send(remote.slice(2)),
      send(remote.slice(0, 4)),
    ]);
    const events = await stored();
    expect(events.map((event) => [event.sequence, event.event_id])).toEqual(
      remote.map((event) => [event.sequence, event.event_id]),
    );
  });

  it('publishes what it stored, once', async () => {
    const { send, published } = await setup();
    await send(remote.slice(0, 2));
    await send(remote.slice(0, 2));
    expect(published.map((event) => event.sequence)).toEqual([1, 2]);
  });

  it('keeps replicating after this node appended an event of its own', async () => {
    const { send, stored, runs } = await setup();
    await send(remote.slice(0, 2));
    await runs.commit(owner, localRun, {
      requireStatus: ['running'],
      events: [{ event_id: `${localRun}:note`, type: 'step.started', data: { step: 9 } }],
    });
    const answer = await send(remote.slice(2));
    expect(answer.runs[0]).toMatchObject({ contiguous_sequence: 5 });
    expect((await stored()).map((event) => event.event_id)).toEqual([
      ...remote.slice(0, 2).map((event) => event.event_id),
      `${localRun}:note`,
      ...remote.slice(2).map((event) => event.event_id),
    ]);
  });

  it('throws not_found for a run forwarded to another peer, a local run and another tenant’s run alike', async () => {
    const { send, runs, stored } = await setup();
    const other = 'run_0000000000000000000000othe';
    await runs.createRun(owner, record(other, undefined), []);
    const asSouth = peerAuth('acme', 'south-1');
    const unknown = await send(remote.slice(0, 1), asSouth, 'south-1').catch((error: unknown) => error);
    const local = await send([{ ...remote[0]!, run_id: other }]).catch((error: unknown) => error);
    const foreign = await send(remote.slice(0, 1), peerAuth('globex')).catch((error: unknown) => error);
    for (const error of [unknown, local, foreign]) expect(error).toMatchObject({ code: 'not_found' });
    expect((unknown as Error).message).toBe((foreign as Error).message);
    expect(await stored()).toEqual([]);
  });

  it('throws not_found and stores nothing when one run of a batch is not the caller’s', async () => {
    const { send, stored } = await setup();
    const other = { ...remote[1]!, run_id: 'run_0000000000000000000000othe' };
    await expect(send([remote[0]!, other])).rejects.toMatchObject({ code: 'not_found' });
    expect(await stored()).toEqual([]);
  });

  it('returns the run’s log still ending with its cancel when the peer’s events go on after it', async () => {
    const { send, stored, runs } = await setup();
    await send(remote.slice(0, 2));
    await runs.commit(owner, localRun, {
      requireStatus: ['running'],
      status: 'canceled',
      changes: { ended_at: at },
      events: [{ event_id: `${localRun}:terminal`, type: 'run.canceled', data: { status: 'canceled' } }],
    });
    const answer = await send(remote.slice(2));
    expect(answer).toMatchObject({ accepted: 0, duplicates: 3, deferred: 0 });
    expect(answer.runs[0]).toMatchObject({ contiguous_sequence: 5, next_sequence: 6 });
    expect((await stored()).map((event) => event.type)).toEqual([
      'run.queued',
      'run.started',
      'run.canceled',
    ]);
    expect(await runs.getRun(owner, localRun)).toMatchObject({ status: 'canceled', output: null });
  });

  it('stores nothing a peer sends after the run’s terminal event', async () => {
    const { send, stored } = await setup();
    const late = { ...remote[2]!, event_id: `${remoteRun}:late`, sequence: 6 };
    const answer = await send([...remote, late]);
    expect(answer).toMatchObject({ accepted: 5, duplicates: 1 });
    expect((await stored()).at(-1)?.type).toBe('run.completed');
  });

  it('throws invalid_request naming an event already held that comes again under a new sequence', async () => {
    const { send, stored } = await setup();
    await send(remote.slice(0, 2));
    const moved = { ...remote[1]!, sequence: 3 };
    const refused = await send([moved]).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'invalid_request' });
    expect((refused as Error).message).toContain(remote[1]!.event_id);
    expect((await stored()).map((event) => event.sequence)).toEqual([1, 2]);
  });

  it('stores the calling peer as the node of every event, whatever the event claims', async () => {
    const { send, stored } = await setup();
    await send([{ ...remote[0]!, node_id: 'east-1' }]);
    expect((await stored()).map((event) => event.node_id)).toEqual(['west-1']);
  });

  it('throws invalid_request and stores nothing for an event id that is not of the peer’s run', async () => {
    const { send, stored } = await setup();
    const claimed = { ...remote[1]!, event_id: `${localRun}:run.terminal` };
    await expect(send([remote[0]!, claimed])).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await stored()).toEqual([]);
  });

  it('throws invalid_request for a batch naming more runs than one call may', async () => {
    const { send } = await setup();
    const many = Array.from({ length: 21 }, (_, index) => ({
      ...remote[0]!,
      run_id: `run_00000000000000000000000${String(index).padStart(3, '0')}`,
    }));
    await expect(send(many)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(IngestEventsRequestSchema.safeParse({ source_node_id: 'west-1', events: many }).success).toBe(
      false,
    );
  });

  it('refuses an event id longer than an ingest stores', () => {
    const long = { ...remote[0]!, event_id: `${remoteRun}:${'x'.repeat(300)}` };
    expect(IngestEventsRequestSchema.safeParse({ source_node_id: 'west-1', events: [long] }).success).toBe(
      false,
    );
  });

  it('throws invalid_request when the source is not the calling peer', async () => {
    const { send } = await setup();
    await expect(send(remote.slice(0, 1), peerAuth(), 'south-1')).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });
});
