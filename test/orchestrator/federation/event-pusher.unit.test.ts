import { describe, expect, it } from 'vitest';
import { InMemoryPeerRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { createEventIngest } from '../../../functions/orchestrator/federation/event-ingest.ts';
import {
  createEventPusher,
  replicatingSink,
} from '../../../functions/orchestrator/federation/event-pusher.ts';
import { originMetadata } from '../../../functions/orchestrator/federation/forward-handlers.ts';
import type { PeerTokenClaims } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import { IngestEventsRequestSchema } from '../../../functions/orchestrator/federation/schemas/event-ingest.ts';
import type { RunRecord } from '../../../functions/orchestrator/ports/run-state-port.ts';
import { queuedRunRecord } from '../../../functions/orchestrator/runtime/queued-run-record.ts';
import { newEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { DependencyUnavailableError, NotFoundError } from '../../../functions/shared/errors/agentos-error.ts';
import { toErrorEnvelope } from '../../../functions/shared/errors/error-envelope.ts';

/**
 * The sending side of event replication (HLD §7.4) on in-memory stores: west-1 runs a run east-1
 * forwarded and pushes its events to east-1's ingest, reached through a fetch that calls east-1's
 * ingest in process and can fail the way a network and a node do.
 */

const at = '2026-12-04T10:00:00.000Z';
const westRun = 'run_0000000000000000000000west';
const eastRun = 'run_0000000000000000000000east';
const westAuth: AuthContext = {
  tenant_id: 'acme-west',
  principal: { id: 'peer/east-1/alice', type: 'service' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: { peer_id: 'east-1' },
};
const eastOwner: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'alice', type: 'user' },
  scopes: ['runs:read'],
  policy_context: {},
};

function record(runId: string, tenant: string, extra: Partial<RunRecord>): RunRecord {
  const owner: AuthContext = {
    tenant_id: tenant,
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
    ...extra,
  };
}

type Failure = 'network' | 503 | 404 | 'slow';

/** A node's error answer: the envelope and status its HTTP core gives a thrown error. */
function answer(error: unknown): Response {
  const { status, envelope } = toErrorEnvelope(error, 'test');
  return Response.json(envelope, { status });
}

async function setup(failures: Failure[] = []) {
  const west = new InMemoryRunStateStore();
  await west.createRun(
    westAuth,
    record(westRun, 'acme-west', {
      principal_id: westAuth.principal.id,
      metadata: { [originMetadata.node]: 'east-1', [originMetadata.run]: eastRun },
    }),
    [newEvent(`${westRun}:run.queued`, 'run.queued', { agent_id: 'sample-agent', status: 'queued' })],
  );
  const east = new InMemoryRunStateStore();
  await east.createRun(
    eastOwner,
    record(eastRun, 'acme', {
      federation: {
        origin_node_id: 'east-1',
        node_id: 'west-1',
        remote_run_id: westRun,
        remote_events_url: null,
      },
      replicated_sequence: 0,
    }),
    [],
  );
  const ingest = createEventIngest({
    runs: east,
    sink: { publish: async () => undefined },
    reportFailure: () => undefined,
  });
  const peers = new InMemoryPeerRegistry();
  await peers.add(
    {
      peer_id: 'east-1',
      base_url: 'https://east.example',
      jwks_url: 'https://east.example/.well-known/jwks.json',
      tenants: [{ tenant_id: 'acme-west', peer_tenant_id: 'acme' }],
    },
    { by: 'ops', at: new Date(at) },
  );
  const tokens: PeerTokenClaims[] = [];
  const calls: string[] = [];
  const pending = [...failures];
  // The budget's and the breaker's clock: only the test (and the pusher's pauses) move it.
  let clock = Date.parse(at);
  const advance = (ms: number) => void (clock += ms);
  const pusher = createEventPusher({
    now: () => clock,
    sleep: async (ms) => advance(ms),
    nodeId: 'west-1',
    runs: west,
    peers,
    issuer: {
      issue: async (claims) => {
        tokens.push(claims);
        return `token-${tokens.length}`;
      },
    },
    batchSize: 2,
    fetch: async (input, init) => {
      calls.push(`${init?.method} ${String(input)}`);
      const failure = pending.shift();
      if (failure === 'network') throw new TypeError('fetch failed');
      if (failure === 'slow') {
        // A call that hangs until its timeout.
        advance(2_000);
        throw new DOMException('timed out', 'TimeoutError');
      }
      if (failure === 503) return answer(new DependencyUnavailableError('busy'));
      if (failure === 404) return answer(new NotFoundError('gone'));
      const body = IngestEventsRequestSchema.parse(JSON.parse(String(init?.body)));
      // east-1's ingest as the peer token maps it: tenant acme, caller west-1.
      const auth: AuthContext = {
        tenant_id: 'acme',
        principal: { id: 'peer/west-1/agentos-event-replicator', type: 'service' },
        scopes: ['federation:ingest'],
        policy_context: { peer_id: 'west-1' },
      };
      return ingest.ingest(auth, 'west-1', body).then((result) => Response.json(result), answer);
    },
  });
  const commit = (type: 'run.started' | 'step.started', step = 1) =>
    west.commit(westAuth, westRun, {
      requireStatus: ['queued', 'running'],
      ...(type === 'run.started' ? { status: 'running' as const } : {}),
      events: [
        type === 'run.started'
          ? newEvent(`${westRun}:run.started`, 'run.started', { status: 'running' })
          : newEvent(`${westRun}:s${step}:step.started`, 'step.started', { step }),
      ],
    });
  const eastEvents = async () => east.listEvents(eastOwner, eastRun, { after: 0, limit: 100 });
  return { west, east, pusher, tokens, calls, commit, eastEvents, advance };
}

describe('event pusher', () => {
  it('returns the sequence the origin holds after sending every event, batch by batch, with fresh tokens', async () => {
    const { pusher, tokens, calls, commit, eastEvents } = await setup();
    await commit('run.started');
    await commit('step.started', 1);
    await commit('step.started', 2);
    expect(await pusher.push(westAuth, westRun)).toBe(4);
    expect(calls).toEqual([
      'POST https://east.example/v1/federation/events:ingest',
      'POST https://east.example/v1/federation/events:ingest',
    ]);
    expect(tokens.map((claims) => [claims.audience, claims.tenantId, claims.scopes])).toEqual([
      ['east-1', 'acme-west', ['federation:ingest']],
      ['east-1', 'acme-west', ['federation:ingest']],
    ]);
    const events = await eastEvents();
    expect(events.map((event) => [event.sequence, event.event_id, event.node_id, event.run_id])).toEqual([
      [1, `${westRun}:run.queued`, 'west-1', eastRun],
      [2, `${westRun}:run.started`, 'west-1', eastRun],
      [3, `${westRun}:s1:step.started`, 'west-1', eastRun],
      [4, `${westRun}:s2:step.started`, 'west-1', eastRun],
    ]);
  });

  it('resends from what the origin holds when it believed the origin held more', async () => {
    const { pusher, commit, eastEvents } = await setup();
    await commit('run.started');
    expect(await pusher.push(westAuth, westRun, 1)).toBe(2);
    expect((await eastEvents()).map((event) => event.sequence)).toEqual([1, 2]);
  });

  it('retries a network failure and a 503 with a new token each time, within its attempts', async () => {
    const { pusher, tokens, eastEvents } = await setup(['network', 503]);
    expect(await pusher.push(westAuth, westRun)).toBe(1);
    expect(tokens).toHaveLength(3);
    expect((await eastEvents()).length).toBe(1);
  });

  it('throws dependency_unavailable once its attempts are spent, and the next push makes it good', async () => {
    const { pusher, eastEvents, advance } = await setup(['network', 503, 'network']);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(await eastEvents()).toEqual([]);
    advance(60_000);
    expect(await pusher.push(westAuth, westRun)).toBe(1);
  });

  it('throws dependency_unavailable once its time budget is spent, before its attempts are', async () => {
    const { pusher, calls } = await setup(['slow', 'slow', 'slow']);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(calls).toHaveLength(2);
  });

  it('throws without calling an origin that failed moments ago, and calls it again later', async () => {
    const { pusher, calls, advance } = await setup(['network', 'network', 'network']);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(calls).toHaveLength(3);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(calls).toHaveLength(3);
    advance(60_000);
    expect(await pusher.push(westAuth, westRun)).toBe(1);
  });

  it('pushes a run whose last push failed once another run’s push reaches its origin', async () => {
    const { west, east, pusher, advance } = await setup(['network', 'network', 'network']);
    const westOther = 'run_000000000000000000000west2';
    const eastOther = 'run_000000000000000000000east2';
    await west.createRun(
      westAuth,
      record(westOther, 'acme-west', {
        principal_id: westAuth.principal.id,
        metadata: { [originMetadata.node]: 'east-1', [originMetadata.run]: eastOther },
      }),
      [newEvent(`${westOther}:run.queued`, 'run.queued', { agent_id: 'sample-agent', status: 'queued' })],
    );
    await east.createRun(
      eastOwner,
      record(eastOther, 'acme', {
        federation: {
          origin_node_id: 'east-1',
          node_id: 'west-1',
          remote_run_id: westOther,
          remote_events_url: null,
        },
        replicated_sequence: 0,
      }),
      [],
    );
    // The first run's only push fails, and nothing of it commits again.
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    advance(60_000);
    expect(await pusher.push(westAuth, westOther)).toBe(1);
    expect(
      (await east.listEvents(eastOwner, eastRun, { after: 0, limit: 10 })).map((event) => event.type),
    ).toEqual(['run.queued']);
  });

  it('returns what the origin holds when told to ignore an origin that failed moments ago', async () => {
    const { pusher } = await setup(['network', 'network', 'network']);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(await pusher.push(westAuth, westRun, 0, { ignoreBreaker: true })).toBe(1);
  });

  it('throws the origin’s refusal without retrying it', async () => {
    const { pusher, calls } = await setup([404]);
    await expect(pusher.push(westAuth, westRun)).rejects.toMatchObject({ code: 'not_found' });
    expect(calls).toHaveLength(1);
  });

  it('returns undefined without calling anyone for a run whose origin metadata its own caller wrote', async () => {
    const { west, pusher, calls } = await setup();
    const own = 'run_0000000000000000000000ownn';
    await west.createRun(
      westAuth,
      record(own, 'acme-west', {
        principal_id: 'bob',
        metadata: { [originMetadata.node]: 'east-1', [originMetadata.run]: eastRun },
      }),
      [],
    );
    expect(await pusher.push(westAuth, own)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it('returns undefined without calling anyone for a run no peer forwarded', async () => {
    const { west, pusher, calls } = await setup();
    const local = 'run_000000000000000000000local';
    await west.createRun(westAuth, record(local, 'acme-west', {}), []);
    expect(await pusher.push(westAuth, local)).toBeUndefined();
    expect(calls).toEqual([]);
  });
});

describe('replicating sink', () => {
  it('pushes the committed events of a peer’s run and reports, never throws, a failed push', async () => {
    const { pusher, commit, eastEvents, advance } = await setup(['network', 'network', 'network']);
    const reported: string[] = [];
    const inner: string[] = [];
    const sink = replicatingSink(
      { publish: async (_auth, events) => void inner.push(...events.map((event) => event.type)) },
      pusher,
      (message) => void reported.push(message),
    );
    const started = await commit('run.started');
    await sink.publish(westAuth, started.events);
    expect(reported).toEqual(['forwarded run events not replicated']);
    advance(60_000);
    const stepped = await commit('step.started');
    await sink.publish(westAuth, stepped.events);
    expect(inner).toEqual(['run.started', 'step.started']);
    expect((await eastEvents()).map((event) => event.sequence)).toEqual([1, 2, 3]);
  });

  it('pushes the cancel of a peer’s run by the tenant’s admin, who is no peer', async () => {
    const { west, pusher, calls, eastEvents } = await setup();
    const sink = replicatingSink({ publish: async () => undefined }, pusher, () => undefined);
    const admin: AuthContext = {
      tenant_id: 'acme-west',
      principal: { id: 'carol', type: 'user' },
      scopes: ['runs:write:all'],
      policy_context: {},
    };
    const canceled = await west.commit(admin, westRun, {
      requireStatus: ['queued'],
      status: 'canceled',
      events: [newEvent(`${westRun}:run.terminal`, 'run.canceled', { status: 'canceled' })],
    });
    await sink.publish(admin, canceled.events);
    expect(calls.length).toBeGreaterThan(0);
    expect((await eastEvents()).map((event) => event.type)).toEqual(['run.queued', 'run.canceled']);
  });

  it('decides from the committed run it is given, without reading the run again', async () => {
    const { west, pusher, calls, commit, eastEvents } = await setup();
    const sink = replicatingSink({ publish: async () => undefined }, pusher, () => undefined);
    const reads: string[] = [];
    const getRun = west.getRun.bind(west);
    west.getRun = async (auth, runId) => {
      reads.push(runId);
      return getRun(auth, runId);
    };
    const started = await commit('run.started');
    await sink.publish(westAuth, started.events, started.run);
    expect(calls.length).toBeGreaterThan(0);
    expect((await eastEvents()).map((event) => event.type)).toEqual(['run.queued', 'run.started']);
    const local = 'run_000000000000000000000local';
    const bob: AuthContext = { ...westAuth, principal: { id: 'bob', type: 'user' } };
    const created = await west.createRun(bob, record(local, 'acme-west', { principal_id: 'bob' }), [
      newEvent(`${local}:run.queued`, 'run.queued', { agent_id: 'sample-agent', status: 'queued' }),
    ]);
    if (created.outcome !== 'created') throw new Error('the run was not created');
    const sent = calls.length;
    await sink.publish(bob, created.events, created.run);
    expect(calls.length).toBe(sent);
    expect(reads).toEqual([]);
  });

  it('leaves the runs of the node’s own callers alone', async () => {
    const { west, pusher, calls } = await setup();
    const sink = replicatingSink({ publish: async () => undefined }, pusher, () => undefined);
    const local = 'run_000000000000000000000local';
    const bob: AuthContext = { ...westAuth, principal: { id: 'bob', type: 'user' } };
    await west.createRun(bob, record(local, 'acme-west', { principal_id: 'bob' }), []);
    const event = {
      object: 'event' as const,
      run_id: local,
      type: 'run.queued' as const,
      time: at,
      data: {},
    };
    await sink.publish(bob, [{ ...event, event_id: 'e1', sequence: 1 }]);
    await sink.publish(bob, [{ ...event, event_id: 'e2', sequence: 2 }]);
    expect(calls).toEqual([]);
  });
});
