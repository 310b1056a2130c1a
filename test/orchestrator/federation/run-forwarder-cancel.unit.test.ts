import { describe, expect, it, vi } from 'vitest';
import { InMemoryPeerRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { createRunForwarder } from '../../../functions/orchestrator/federation/run-forwarder.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';

/**
 * The cancel a node sends to the peer running a run it forwarded (HLD §7.3), against a peer double
 * answering as told: what reaches the peer, which answers are retried, and what the caller is told.
 */

const alice: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'alice', type: 'user' },
  scopes: ['runs:read', 'runs:write'],
  policy_context: {},
};
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const remoteRunId = 'run_0000000000000000000000remo';

type Sent = { url: string; headers: Record<string, string>; body: unknown };

async function setup(answers: (Response | 'network')[]) {
  const peers = new InMemoryPeerRegistry();
  await peers.add(
    {
      peer_id: 'west-1',
      base_url: 'https://west-1.example/',
      jwks_url: 'https://west-1.example/jwks',
      tenants: [{ tenant_id: 'acme', peer_tenant_id: 'acme-west' }],
    },
    { by: 'ops', at: new Date() },
  );
  const sent: Sent[] = [];
  let tokens = 0;
  const forwarder = createRunForwarder({
    nodeId: 'east-1',
    peers,
    issuer: { issue: async () => `token-${++tokens}` },
    attempts: 3,
    fetch: async (input, init) => {
      sent.push({
        url: String(input),
        headers: init?.headers as Record<string, string>,
        body: JSON.parse(String(init?.body)) as unknown,
      });
      const answer = answers.shift() ?? 'network';
      if (answer === 'network') throw new TypeError('fetch failed');
      return answer;
    },
  });
  const cancel = (peerId = 'west-1', auth = alice) =>
    forwarder.cancel(auth, { peerId, remoteRunId, traceparent });
  return { cancel, sent };
}

const envelope = (code: string, message: string) => ({
  error: { code, message, correlation_id: 'c-1', details: {} },
});
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const canceled = () =>
  json(200, {
    object: 'federation.canceled_run',
    node_id: 'west-1',
    run_id: remoteRunId,
    status: 'canceled',
  });

describe('run forwarder cancel', () => {
  it('returns the peer’s answer, sent to its cancel route with a peer token and the traceparent', async () => {
    const { cancel, sent } = await setup([canceled()]);
    expect(await cancel()).toEqual({
      object: 'federation.canceled_run',
      node_id: 'west-1',
      run_id: remoteRunId,
      status: 'canceled',
    });
    expect(sent).toEqual([
      {
        url: 'https://west-1.example/v1/federation/runs:cancel',
        headers: expect.objectContaining({ authorization: 'Bearer token-1', traceparent }),
        body: { run_id: remoteRunId },
      },
    ]);
  });

  it('retries a network failure, a 503 and a 429 with a fresh token each time', async () => {
    const { cancel, sent } = await setup([
      'network',
      json(503, envelope('dependency_unavailable', 'busy')),
      canceled(),
    ]);
    expect(await cancel()).toMatchObject({ status: 'canceled' });
    expect(sent.map((request) => request.headers['authorization'])).toEqual([
      'Bearer token-1',
      'Bearer token-2',
      'Bearer token-3',
    ]);
  });

  it('throws dependency_unavailable once every attempt failed', async () => {
    const { cancel, sent } = await setup([
      'network',
      'network',
      json(429, envelope('rate_limited', 'slow down')),
    ]);
    await expect(cancel()).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(sent).toHaveLength(3);
  });

  it('throws the peer’s not_found without retrying it', async () => {
    const { cancel, sent } = await setup([json(404, envelope('not_found', 'Run not found'))]);
    await expect(cancel()).rejects.toMatchObject({ code: 'not_found' });
    expect(sent).toHaveLength(1);
  });

  it('throws forbidden when the peer refuses this node’s token', async () => {
    const { cancel } = await setup([json(401, envelope('unauthorized', 'bad token'))]);
    await expect(cancel()).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('throws dependency_unavailable for an answer it cannot read', async () => {
    const { cancel } = await setup([new Response('<html>gateway</html>', { status: 200 })]);
    await expect(cancel()).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('throws not_found and calls nothing for an unknown peer or one the tenant may not use', async () => {
    const { cancel, sent } = await setup([canceled()]);
    await expect(cancel('north-1')).rejects.toMatchObject({ code: 'not_found' });
    await expect(cancel('west-1', { ...alice, tenant_id: 'globex' })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(sent).toEqual([]);
  });

  it('waits the Retry-After a busy peer gives before sending the cancel again', async () => {
    vi.useFakeTimers();
    try {
      const busy = new Response('{}', { status: 429, headers: { 'retry-after': '1' } });
      const { cancel, sent } = await setup([busy, canceled()]);
      const answer = cancel();
      await vi.advanceTimersByTimeAsync(900);
      expect(sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(200);
      expect(await answer).toMatchObject({ status: 'canceled' });
      expect(sent).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends the cancel again when the answer breaks off while it is read', async () => {
    const broken = new Response(
      new ReadableStream({
        start(controller) {
          controller.error(new TypeError('terminated'));
        },
      }),
      { status: 200 },
    );
    const { cancel, sent } = await setup([broken, canceled()]);
    expect(await cancel()).toMatchObject({ status: 'canceled' });
    expect(sent).toHaveLength(2);
  });
});
