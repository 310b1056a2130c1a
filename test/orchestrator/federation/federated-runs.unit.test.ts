import { describe, expect, it, vi } from 'vitest';
import { InMemoryPeerRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { toRunView } from '../../../functions/orchestrator/runtime/run-service.ts';
import { createFederatedRuns } from '../../../functions/orchestrator/federation/federated-runs.ts';
import type { ForwardRequest } from '../../../functions/orchestrator/federation/run-forwarder.ts';
import type { PeerCapabilities } from '../../../functions/orchestrator/federation/schemas/peer-capabilities.ts';
import type { Peer } from '../../../functions/orchestrator/federation/schemas/peer.ts';
import type { ForwardedRun } from '../../../functions/orchestrator/federation/schemas/run-forwarding.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { CreateRunRequest } from '../../../functions/orchestrator/schemas/run.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { rateLimited } from '../../../functions/shared/limits/rate-limit-headers.ts';
import { DependencyUnavailableError, NotFoundError } from '../../../functions/shared/errors/agentos-error.ts';

/**
 * The origin side of run forwarding (HLD §7.3) on the in-memory store, with a forwarder double that
 * records each forward and answers as told: what a client of east-1 notices when west-1 takes the
 * run, cannot be reached, or refuses it.
 */

const alice: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'alice', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};
const body: CreateRunRequest = {
  agent_id: 'sample-agent',
  input: { messages: [{ role: 'user', content: 'hi' }] },
  target: { peer_id: 'west-1' },
};
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

type Answer = 'ok' | 'unreachable' | 'refused' | 'held';
type CancelAnswer = 'canceled' | 'unreachable';

async function setup(
  answers: Answer[] = [],
  tiers: Record<string, string[]> = {},
  down = new Set<string>(),
  slow = new Set<string>(),
  peerIds = ['west-1', 'north-1'],
  cancelAnswers: CancelAnswer[] = [],
) {
  const runs = new InMemoryRunStateStore();
  const peers = new InMemoryPeerRegistry();
  for (const peerId of peerIds)
    await peers.add(
      {
        peer_id: peerId,
        base_url: `https://${peerId}.example`,
        jwks_url: `https://${peerId}.example/jwks`,
        tenants: [{ tenant_id: 'acme', peer_tenant_id: 'acme' }],
      },
      { by: 'ops', at: new Date() },
    );
  const sent: (ForwardRequest & { originRunId: string | undefined })[] = [];
  const pending = [...answers];
  let ids = 0;
  // A `held` forward waits for the test to let its answer through.
  let letThrough: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (letThrough = resolve));
  // The capabilities cache's and the placement budget's clock: only the test and slow peers move it.
  let clock = Date.parse('2026-12-04T10:00:00.000Z');
  const advance = (ms: number) => void (clock += ms);
  const asked: string[] = [];
  const cancels: { peerId: string; remoteRunId: string; traceparent: string }[] = [];
  const failures: string[] = [];
  let cancelFailures = 0;
  const published: RunEvent[] = [];
  const federated = createFederatedRuns({
    sink: {
      publish: async (_auth, events) => void published.push(...events),
    },
    capabilitiesTtlMs: 60_000,
    placementBudgetMs: 5_000,
    runs,
    peers,
    nodeId: 'east-1',
    localTiers: ['small'],
    reportFailure: (message) => void failures.push(message),
    countRemoteCancelFailure: () => void cancelFailures++,
    now: () => new Date(clock),
    newRunId: () => `run_${String(++ids).padStart(26, '0')}`,
    idempotencyTtlSeconds: 86_400,
    forwarder: {
      cancel: async (_auth, request) => {
        cancels.push(request);
        if (cancelAnswers.shift() === 'unreachable')
          throw new DependencyUnavailableError('Peer west-1 could not be reached to cancel the run');
        return {
          object: 'federation.canceled_run',
          node_id: request.peerId,
          run_id: request.remoteRunId,
          status: 'canceled',
        };
      },
      capabilities: async (peer) => {
        asked.push(peer.peer_id);
        if (slow.has(peer.peer_id)) advance(2_000);
        if (down.has(peer.peer_id))
          throw new DependencyUnavailableError(`Peer ${peer.peer_id} did not answer`);
        return {
          models: { tiers: (tiers[peer.peer_id] ?? []).map((name) => ({ name })) },
        } as PeerCapabilities;
      },
      prepare: async (_auth, request) => ({
        peer: { peer_id: request.peerId } as Peer,
        send: async (originRunId?: string): Promise<ForwardedRun> => {
          sent.push({ ...request, originRunId });
          const answer = pending.shift() ?? 'ok';
          if (answer === 'held') await held;
          if (answer === 'unreachable')
            throw new DependencyUnavailableError('Peer west-1 could not take the forward');
          if (answer === 'refused') throw new NotFoundError('Agent sample-agent was not found');
          return {
            object: 'federation.forwarded_run',
            node_id: request.peerId,
            run_id: 'run_0000000000000000000000remo',
            status: 'queued',
            events_url: `https://${request.peerId}.example/v1/runs/run_0000000000000000000000remo/events?stream_token=secret`,
            created_at: new Date().toISOString(),
          };
        },
      }),
    },
  });
  const create = (key?: string, request = body) =>
    federated.createRun(alice, request, 'west-1', key, traceparent);
  return {
    runs,
    federated,
    sent,
    create,
    asked,
    advance,
    cancels,
    failures,
    published,
    cancelFailures: () => cancelFailures,
    letThrough: () => letThrough(),
  };
}

describe('federated runs', () => {
  it('returns the run linked to the peer’s, without the peer’s token, and sends the forward naming it', async () => {
    const { create, sent } = await setup();
    const { run, replayed } = await create('key-1');
    expect(replayed).toBe(false);
    expect(run).toMatchObject({
      status: 'queued',
      federation: {
        origin_node_id: 'east-1',
        node_id: 'west-1',
        remote_run_id: 'run_0000000000000000000000remo',
        remote_events_url: 'https://west-1.example/v1/runs/run_0000000000000000000000remo/events',
        replicated_sequence: 0,
      },
    });
    expect(sent).toEqual([expect.objectContaining({ originRunId: run.run_id, traceparent })]);
  });

  it('returns the same run for the same key, and names the forward by the run, never the key itself', async () => {
    const { create, sent } = await setup();
    const first = await create('key-1');
    const again = await create('key-1');
    expect(again).toMatchObject({ replayed: true, run: { run_id: first.run.run_id } });
    // The retry sends the same forward again, so the peer pushes what this node may have missed.
    expect(sent.map((request) => [request.forwardKey, request.originRunId])).toEqual([
      [sent[0]!.forwardKey, first.run.run_id],
      [sent[0]!.forwardKey, first.run.run_id],
    ]);
    sent.length = 1;
    const other = await create('key-2');
    expect(other.run.run_id).not.toBe(first.run.run_id);
    expect(sent[1]!.forwardKey).not.toBe(sent[0]!.forwardKey);
    expect(sent[0]!.forwardKey).not.toContain('key-1');
    // A key reused once its claim expired makes a new run here: it must not find the old remote run.
    expect(sent[0]!.forwardKey).toContain(first.run.run_id);
    expect(sent[1]!.forwardKey).toContain(other.run.run_id);
  });

  it('keeps the run queued when the peer cannot be reached, and a retry with the key sends the same forward', async () => {
    const { create, sent, runs } = await setup(['unreachable']);
    const failed = await create('key-1').catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'dependency_unavailable', details: { run_id: expect.any(String) } });
    const runId = (failed as DependencyUnavailableError).details['run_id'] as string;
    expect(await runs.getRun(alice, runId)).toMatchObject({
      status: 'queued',
      federation: { remote_run_id: null },
    });
    const retried = await create('key-1');
    expect(retried).toMatchObject({
      replayed: true,
      run: { run_id: runId, federation: { node_id: 'west-1' } },
    });
    expect(sent.map((request) => [request.forwardKey, request.originRunId])).toEqual([
      [sent[0]!.forwardKey, runId],
      [sent[0]!.forwardKey, runId],
    ]);
  });

  it('returns the run as it is when the retried forward meets an unreachable peer', async () => {
    const { create } = await setup(['ok', 'unreachable']);
    const first = await create('key-1');
    expect(await create('key-1')).toMatchObject({
      replayed: true,
      run: { run_id: first.run.run_id, status: 'queued', federation: { node_id: 'west-1' } },
    });
  });

  it('fails the run with the peer’s refusal, publishes its run.failed event, and throws that refusal', async () => {
    const { create, runs, published } = await setup(['refused']);
    await expect(create('key-1')).rejects.toMatchObject({ code: 'not_found' });
    const { runs: stored } = await runs.listRuns(alice, { limit: 10 });
    expect(stored).toEqual([
      expect.objectContaining({
        status: 'failed',
        error: { code: 'not_found', message: 'Agent sample-agent was not found' },
      }),
    ]);
    // Streams following the run hear of its end at once, and logs and replication see it.
    expect(published).toEqual([
      expect.objectContaining({
        run_id: stored[0]!.run_id,
        type: 'run.failed',
        node_id: 'east-1',
        data: { status: 'failed', error: { code: 'not_found', message: 'Agent sample-agent was not found' } },
      }),
    ]);
  });

  it('fails the run when the peer cannot be reached and the client sent no key to retry with', async () => {
    const { create, runs } = await setup(['unreachable']);
    await expect(create()).rejects.toMatchObject({ code: 'dependency_unavailable' });
    const { runs: stored } = await runs.listRuns(alice, { limit: 10 });
    expect(stored.map((run) => run.status)).toEqual(['failed']);
  });

  it('throws idempotency_key_reused for the same key with another body', async () => {
    const { create } = await setup();
    await create('key-1');
    await expect(create('key-1', { ...body, metadata: { other: 'x' } })).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  it('returns the stored run when a tier’s peer is down on a retry with the key', async () => {
    const down = new Set<string>();
    const { federated } = await setup([], { 'north-1': ['large'] }, down);
    const request: CreateRunRequest = { ...body, target: { model_tier: 'large' } };
    const place = () =>
      federated.place(alice, { model_tier: 'large' }, { body: request, idempotencyKey: 'key-1' });
    const first = await federated.createRun(
      alice,
      request,
      ((await place()) as { peerId: string }).peerId,
      'key-1',
      traceparent,
    );
    down.add('north-1');
    const placed = await place();
    expect(placed).toEqual({ where: 'peer', peerId: 'north-1' });
    const again = await federated.createRun(alice, request, 'north-1', 'key-1', traceparent);
    expect(again).toMatchObject({ replayed: true, run: { run_id: first.run.run_id } });
  });

  it('asks a peer its capabilities once while they are fresh, and again once they expired', async () => {
    const { federated, asked, advance } = await setup([], { 'north-1': ['large'] });
    await federated.place(alice, { model_tier: 'large' });
    await federated.place(alice, { model_tier: 'large' });
    expect(asked.filter((peer) => peer === 'north-1')).toHaveLength(1);
    advance(61_000);
    expect(await federated.place(alice, { model_tier: 'large' })).toEqual({
      where: 'peer',
      peerId: 'north-1',
    });
    expect(asked.filter((peer) => peer === 'north-1')).toHaveLength(2);
  });

  it('throws invalid_request without asking every peer once the placement’s time is spent', async () => {
    const peerIds = Array.from({ length: 12 }, (_, index) => `peer-${index + 1}`);
    const { federated, asked } = await setup([], {}, new Set(), new Set(peerIds), peerIds);
    await expect(federated.place(alice, { model_tier: 'large' })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    expect(asked.length).toBeLessThan(peerIds.length);
  });

  it('throws rate_limited and stores and sends nothing when the tenant’s run rate is spent, and a replay takes none', async () => {
    const { federated, sent, runs } = await setup();
    let taken = 0;
    const admit = async () => {
      taken += 1;
      if (taken > 1) throw rateLimited('tenant_run_rate', 'The tenant may create 1 run per second', 1);
      return { allowed: true, limit: 1, remaining: 0, resetSeconds: 1, retryAfterSeconds: 0 };
    };
    const first = await federated.createRun(alice, body, 'west-1', 'key-1', traceparent, admit);
    expect(first.rateLimit).toMatchObject({ remaining: 0 });
    const again = await federated.createRun(alice, body, 'west-1', 'key-1', traceparent, admit);
    expect(again).toMatchObject({ replayed: true, run: { run_id: first.run.run_id } });
    expect(taken).toBe(1);
    await expect(
      federated.createRun(alice, body, 'west-1', 'key-2', traceparent, admit),
    ).rejects.toMatchObject({ code: 'rate_limited' });
    expect(sent).toHaveLength(2);
    expect((await runs.listRuns(alice, { limit: 10 })).runs).toHaveLength(1);
  });

  it('places a tier offered here on this node, else on a peer that offers it, and refuses one no node offers', async () => {
    const { federated } = await setup([], { 'north-1': ['large'] });
    expect(await federated.place(alice, { model_tier: 'small' })).toEqual({ where: 'local' });
    expect(await federated.place(alice, { model_tier: 'large' })).toEqual({
      where: 'peer',
      peerId: 'north-1',
    });
    await expect(federated.place(alice, { model_tier: 'huge' })).rejects.toMatchObject({
      code: 'invalid_request',
      details: { fields: [{ field: 'target.model_tier' }] },
    });
    await expect(
      federated.place({ ...alice, tenant_id: 'globex' }, { model_tier: 'large' }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('sends the cancel of a forwarded run to its peer and returns it acknowledged', async () => {
    const { create, federated, cancels } = await setup();
    const { run } = await create('key-1');
    const canceled = await federated.cancelRemote(alice, { ...run, status: 'canceled' }, traceparent);
    expect(cancels).toEqual([
      { peerId: 'west-1', remoteRunId: 'run_0000000000000000000000remo', traceparent },
    ]);
    expect(canceled).toMatchObject({
      status: 'canceled',
      federation: { node_id: 'west-1', remote_cancel: 'acknowledged' },
    });
  });

  it('returns the run canceled with remote_cancel failed, logged and counted, when the peer cannot be reached', async () => {
    const { create, federated, failures, cancelFailures } = await setup(
      [],
      {},
      new Set(),
      new Set(),
      undefined,
      ['unreachable'],
    );
    const { run } = await create('key-1');
    const canceled = await federated.cancelRemote(alice, { ...run, status: 'canceled' }, traceparent);
    expect(canceled).toMatchObject({ status: 'canceled', federation: { remote_cancel: 'failed' } });
    expect(failures).toEqual(['forwarded run cancel not sent to the peer']);
    expect(cancelFailures()).toBe(1);
  });

  it('forwards again a run whose forward never got an answer, to learn its id there, and cancels it', async () => {
    const { create, federated, cancels, runs, sent } = await setup(['unreachable']);
    const failed = await create('key-1').catch((error: unknown) => error);
    const runId = (failed as DependencyUnavailableError).details['run_id'] as string;
    const stored = await runs.getRun(alice, runId);
    expect(stored?.federation?.remote_run_id).toBeNull();
    const run = { ...toRunView(stored!), status: 'canceled' as const };
    const canceled = await federated.cancelRemote(alice, run, traceparent);
    // The same forward again (the same key), then the cancel of the run it names.
    expect(sent.map((forward) => forward.forwardKey)).toEqual([`run:${runId}`, `run:${runId}`]);
    expect(cancels).toEqual([
      { peerId: 'west-1', remoteRunId: 'run_0000000000000000000000remo', traceparent },
    ]);
    expect(canceled.federation?.remote_cancel).toBe('acknowledged');
    expect((await runs.getRun(alice, runId))?.federation?.remote_run_id).toBe(
      'run_0000000000000000000000remo',
    );
  });

  it('cancels on the peer a run canceled here while its forward was on its way', async () => {
    const { create, cancels, runs, sent, letThrough } = await setup(['held']);
    const creating = create('key-1');
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    const [stored] = (await runs.listRuns(alice, { limit: 10 })).runs;
    await runs.commit(alice, stored!.run_id, {
      requireStatus: ['queued'],
      status: 'canceled',
      changes: { ended_at: new Date().toISOString() },
      events: [],
    });
    letThrough();
    const { run } = await creating;
    expect(run).toMatchObject({ status: 'canceled', federation: { remote_cancel: 'acknowledged' } });
    expect(cancels).toEqual([
      { peerId: 'west-1', remoteRunId: 'run_0000000000000000000000remo', traceparent },
    ]);
  });

  it('returns a run that was never forwarded as it is', async () => {
    const { federated, cancels } = await setup();
    const run = { run_id: 'run_00000000000000000000000001', status: 'canceled' } as Parameters<
      typeof federated.cancelRemote
    >[1];
    expect(await federated.cancelRemote(alice, run, traceparent)).toBe(run);
    expect(cancels).toEqual([]);
  });
});
