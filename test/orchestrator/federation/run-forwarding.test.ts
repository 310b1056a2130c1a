import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryPeerRegistry } from '../../../functions/orchestrator/adapters/in-memory/in-memory-peer-registry.ts';
import { createPeerTokenIssuer } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import { createRunForwarder } from '../../../functions/orchestrator/federation/run-forwarder.ts';
import type { PeerTokenClaims } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import { ForwardedRunSchema } from '../../../functions/orchestrator/federation/schemas/run-forwarding.ts';
import { generateSigningKey, publicJwks } from '../../../functions/shared/auth/signing-keys.ts';
import type { SigningJwk } from '../../../functions/shared/auth/token-issuer.ts';
import { startOrchestratorApi } from '../../support/orchestrator-api-only.ts';

/**
 * `POST /v1/federation/runs:forward` over real HTTP on a fresh emulator node, west-1 (HLD §7.1,
 * §7.3). The test plays its peer east-1: it publishes east-1's keys on a local HTTP server, has
 * west-1's operator trust it for one tenant (`acme` on east-1 is `acme-west` on west-1), and signs
 * peer tokens with east-1's key.
 */

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let jwksServer: Server;
let eastKey: SigningJwk;

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const claims: PeerTokenClaims = {
  audience: 'west-1',
  tenantId: 'acme',
  principal: 'alice',
  scopes: ['federation:forward'],
  traceparent,
};
const request = {
  protocol_version: 'agentos-federation/1.0',
  agent_id: 'sample-agent',
  input: { messages: [{ role: 'user' as const, content: 'hello from east' }] },
  origin: { node_id: 'east-1', run_id: 'run_0123456789abcdefghjkmnpqrs' },
};

const east = () => createPeerTokenIssuer({ nodeId: 'east-1', key: eastKey });

async function forward(
  token: string,
  key: string,
  body: unknown = request,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${api.url}/v1/federation/runs:forward`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
      traceparent,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function runsOf(tenantId: string): Promise<unknown[]> {
  const token = await api.auth.token(tenantId, { scopes: ['runs:read', 'runs:read:all'] });
  const response = await fetch(`${api.url}/v1/runs?limit=100`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await response.json()) as { data: unknown[] }).data;
}

beforeAll(async () => {
  eastKey = await generateSigningKey('east');
  jwksServer = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(publicJwks({ keys: [eastKey] })));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  api = await startOrchestratorApi({ AGENTOS_NODE_ID: 'west-1' });
  await api.seed('acme-west');
  await api.seed('globex');
  await api.auth.registerTenant('operator');
  const operator = await api.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
  const added = await fetch(`${api.url}/v1/admin/peers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      peer_id: 'east-1',
      base_url: 'http://127.0.0.1:9',
      jwks_url: jwksUrl,
      tenants: [{ tenant_id: 'acme-west', peer_tenant_id: 'acme' }],
    }),
  });
  if (added.status !== 201) throw new Error(`the operator could not add the peer: ${await added.text()}`);
});

afterAll(async () => {
  await api.close();
  await new Promise((resolve) => jwksServer.close(resolve));
});

describe('POST /v1/federation/runs:forward', { timeout: 60_000 }, () => {
  it('returns the run created on this node for the mapped tenant, with an events URL that opens it', async () => {
    const answer = await forward(await east().issue(claims), `fwd-${crypto.randomUUID()}`);
    expect(answer.status).toBe(201);
    const forwarded = ForwardedRunSchema.parse(answer.body);
    expect(forwarded).toMatchObject({
      object: 'federation.forwarded_run',
      node_id: 'west-1',
      status: 'queued',
    });
    expect(forwarded.events_url.startsWith(`${api.url}/v1/runs/${forwarded.run_id}/events?`)).toBe(true);

    const events = await fetch(forwarded.events_url);
    expect(events.status).toBe(200);
    const page = (await events.json()) as { data: { type: string }[] };
    expect(page.data.map((event) => event.type)).toContain('run.queued');

    const run = (await runsOf('acme-west')).find(
      (r) => (r as { run_id: string }).run_id === forwarded.run_id,
    );
    expect(run).toMatchObject({
      metadata: {
        'federation.origin_node_id': 'east-1',
        'federation.origin_run_id': 'run_0123456789abcdefghjkmnpqrs',
      },
    });
  });

  it('returns the same run for the same forward key, retried or concurrent', async () => {
    const key = `fwd-${crypto.randomUUID()}`;
    const first = await forward(await east().issue(claims), key);
    expect(first.status).toBe(201);
    const again = await Promise.all([1, 2, 3].map(async () => forward(await east().issue(claims), key)));
    expect(again.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(new Set(again.map((answer) => answer.body['run_id']))).toEqual(new Set([first.body['run_id']]));

    const racing = `fwd-${crypto.randomUUID()}`;
    const raced = await Promise.all([1, 2, 3].map(async () => forward(await east().issue(claims), racing)));
    expect(new Set(raced.map((answer) => answer.body['run_id'])).size).toBe(1);
    expect(raced.map((answer) => answer.status).sort()).toEqual([200, 200, 201]);
  });

  it('refuses a replayed, wrong-audience or forged peer token with 401 and the error envelope', async () => {
    const token = await east().issue(claims);
    expect((await forward(token, `fwd-${crypto.randomUUID()}`)).status).toBe(201);
    const replayed = await forward(token, `fwd-${crypto.randomUUID()}`);
    expect(replayed).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: expect.stringContaining('used already') } },
    });
    const elsewhere = await forward(await east().issue({ ...claims, audience: 'north-1' }), `fwd-x`);
    expect(elsewhere).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    const forger = { ...(await generateSigningKey('forger')), kid: eastKey.kid };
    const forged = await createPeerTokenIssuer({ nodeId: 'east-1', key: forger }).issue(claims);
    expect(await forward(forged, 'fwd-y')).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
  });

  it('refuses a tenant the peer is not trusted for with 403, creating nothing', async () => {
    const before = (await runsOf('globex')).length;
    const answer = await forward(
      await east().issue({ ...claims, tenantId: 'globex' }),
      `fwd-${crypto.randomUUID()}`,
    );
    expect(answer).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect((await runsOf('globex')).length).toBe(before);
  });

  it('refuses a tenant’s own bearer token: only peer tokens forward', async () => {
    const token = await api.auth.token('acme-west', { scopes: ['federation:forward', 'runs:write'] });
    expect((await forward(token, `fwd-${crypto.randomUUID()}`)).status).toBe(401);
  });

  it('refuses a protocol version this node does not speak, or an origin that is not the caller', async () => {
    const version = await forward(await east().issue(claims), `fwd-${crypto.randomUUID()}`, {
      ...request,
      protocol_version: 'agentos-federation/9.0',
    });
    expect(version).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    const origin = await forward(await east().issue(claims), `fwd-${crypto.randomUUID()}`, {
      ...request,
      origin: { node_id: 'south-1' },
    });
    expect(origin).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });
});

describe('the forwarder of east-1', { timeout: 60_000 }, () => {
  const caller = {
    tenant_id: 'acme',
    principal: { id: 'alice', type: 'user' as const },
    scopes: ['runs:write'],
    policy_context: {},
  };
  const ask = (forwardKey = `fwd-${crypto.randomUUID()}`) => ({
    peerId: 'west-1',
    agentId: 'sample-agent',
    input: request.input,
    forwardKey,
    traceparent,
  });

  /** east-1's side: west-1 trusted for acme (acme-west there), and every request it sends recorded. */
  async function eastForwarder(
    rewrite: (url: string, response: Response) => Promise<Response> = async (_u, r) => r,
  ) {
    const peers = new InMemoryPeerRegistry();
    await peers.add(
      {
        peer_id: 'west-1',
        base_url: api.url,
        jwks_url: `${api.url}/.well-known/jwks.json`,
        tenants: [{ tenant_id: 'acme', peer_tenant_id: 'acme-west' }],
      },
      { by: 'ops', at: new Date() },
    );
    const sent: string[] = [];
    const forwarder = createRunForwarder({
      nodeId: 'east-1',
      peers,
      issuer: east(),
      fetch: async (input, init) => {
        const url = String(input);
        sent.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
        return rewrite(url, await fetch(input, init));
      },
    });
    return { forwarder, sent };
  }

  it('returns the remote run and its events URL for a peer that meets the request', async () => {
    const { forwarder, sent } = await eastForwarder();
    const forwarded = await forwarder.forward(caller, ask());
    expect(forwarded).toMatchObject({ node_id: 'west-1', status: 'queued' });
    expect((await fetch(forwarded.events_url)).status).toBe(200);
    expect(sent).toEqual(['GET /v1/peer/capabilities', 'POST /v1/federation/runs:forward']);
  });

  it('refuses a peer whose capabilities do not meet the request before anything is created', async () => {
    const { forwarder, sent } = await eastForwarder(async (url, response) => {
      if (!url.endsWith('/v1/peer/capabilities')) return response;
      const capabilities = (await response.json()) as {
        features: Record<string, boolean>;
        protocol_versions: string[];
      };
      capabilities.features['run_forwarding'] = false;
      capabilities.protocol_versions = ['agentos-federation/2.0'];
      return Response.json(capabilities);
    });
    const before = (await runsOf('acme-west')).length;
    await expect(forwarder.forward(caller, ask())).rejects.toMatchObject({
      code: 'invalid_request',
      message:
        'Peer west-1 cannot take this run: it does not accept forwarded runs; it does not speak agentos-federation/1.0 (it speaks agentos-federation/2.0)',
    });
    expect(sent).toEqual(['GET /v1/peer/capabilities']);
    expect((await runsOf('acme-west')).length).toBe(before);
  });

  it('throws the same not_found for a peer the tenant does not federate with as for an unknown one, without calling it', async () => {
    const { forwarder, sent } = await eastForwarder();
    const notTrusted = await forwarder
      .forward({ ...caller, tenant_id: 'globex' }, ask())
      .catch((error: unknown) => error);
    const unknown = await forwarder
      .forward(caller, { ...ask(), peerId: 'nowhere-1' })
      .catch((error: unknown) => error);
    expect(notTrusted).toMatchObject({ code: 'not_found', message: 'Peer west-1 not found' });
    expect(unknown).toMatchObject({ code: 'not_found', message: 'Peer nowhere-1 not found' });
    expect(sent).toEqual([]);
  });

  it('returns the one remote run when a forward is retried after a failed answer', async () => {
    let failed = false;
    const { forwarder, sent } = await eastForwarder(async (url, response) => {
      if (failed || !url.endsWith('runs:forward')) return response;
      failed = true;
      // The run was created, but the answer is lost on the way back.
      return new Response('bad gateway', { status: 502 });
    });
    const key = `fwd-${crypto.randomUUID()}`;
    const forwarded = await forwarder.forward(caller, ask(key));
    expect(sent.filter((line) => line.startsWith('POST'))).toHaveLength(2);
    const again = await (await eastForwarder()).forwarder.forward(caller, ask(key));
    expect(again.run_id).toBe(forwarded.run_id);
  });
});
