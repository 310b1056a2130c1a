import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { threeStepRunInput } from '../../../cli/client/three-step-run.ts';
import { parseSse } from '../../../cli/client/sse-client.ts';
import { DynamoPeerRegistry } from '../../../functions/orchestrator/adapters/dynamodb/dynamo-peer-registry.ts';
import { createPeerTokenIssuer } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import type { PeerTokenClaims } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import { createRunForwarder } from '../../../functions/orchestrator/federation/run-forwarder.ts';
import type { ForwardRequest } from '../../../functions/orchestrator/federation/run-forwarder.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { generateSigningKey } from '../../../functions/shared/auth/signing-keys.ts';
import { AgentOsError } from '../../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { testAwsConfig } from '../../support/aws.ts';
import { runCli } from '../../support/cli-local-node.ts';
import type { CliResult } from '../../support/cli-local-node.ts';
import { startTwoNodes } from '../../support/two-nodes.ts';
import type { NodeSide, TwoNodes } from '../../support/two-nodes.ts';

/**
 * Federation between two nodes in two processes over real HTTP (HLD §7): A forwards runs to B with
 * A's own forwarder, peer registry and node key; B verifies A's peer tokens against the keys A
 * publishes, enforces its own quotas, and serves the forwarded run's events at an absolute URL.
 * Each operator trusts the other node with `agentos peers add --discover`. `acme` on A is `acme-b` on B; `tight` is `tight` on both; `globex` exists on both but B does not
 * trust A for it.
 */
let nodes: TwoNodes;
let a: NodeSide;
let b: NodeSide;
let forwarder: ReturnType<typeof createRunForwarder>;
let stateDir: string;
let reportsDir: string;
const trusted: CliResult[] = [];

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function callerOn(tenantId: string): AuthContext {
  return {
    tenant_id: tenantId,
    principal: { id: `user-${tenantId}`, type: 'user' },
    scopes: ['runs:write', 'runs:read'],
    policy_context: {},
  };
}

function request(input: ReturnType<typeof threeStepRunInput>): ForwardRequest {
  return {
    peerId: b.nodeId,
    agentId: input.agent_id,
    input: input.input,
    forwardKey: `fwd-${crypto.randomUUID()}`,
    traceparent,
  };
}

/** A slow run: each model turn takes a while, so a stream can be cut while the run goes on. */
function slowRunInput(label: string) {
  const script = [
    { tool_calls: [{ name: 'echo', arguments: { text: `${label} one` } }], delay_ms: 800 },
    { tool_calls: [{ name: 'echo', arguments: { text: `${label} two` } }], delay_ms: 800 },
    { reply: `${label} done`, delay_ms: 800 },
  ];
  return {
    agent_id: 'sample-agent',
    input: {
      messages: [{ role: 'user' as const, content: `go\nagentos-script: ${JSON.stringify(script)}` }],
    },
  };
}

type Streamed = { id: number; type: string };

/** Follows `eventsUrl` as an EventSource would, stopping after `stopAfter` events when given. */
async function stream(
  eventsUrl: string,
  options: { lastEventId?: number; stopAfter?: number } = {},
): Promise<{ status: number; events: Streamed[]; body?: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  try {
    const response = await fetch(eventsUrl, {
      headers: {
        accept: 'text/event-stream',
        ...(options.lastEventId === undefined ? {} : { 'last-event-id': String(options.lastEventId) }),
      },
      signal: controller.signal,
    });
    if (response.status !== 200 || response.body === null)
      return { status: response.status, events: [], body: await response.text() };
    const events: Streamed[] = [];
    for await (const frame of parseSse(response.body)) {
      if (frame.kind !== 'event') continue;
      events.push({ id: Number(frame.id), type: frame.event });
      if (events.length === options.stopAfter) {
        controller.abort();
        break;
      }
    }
    return { status: 200, events };
  } finally {
    clearTimeout(timer);
  }
}

/** Every stored event of a run, read with the events URL's own token. */
async function storedEvents(eventsUrl: string): Promise<Streamed[]> {
  const page = (await (await fetch(`${eventsUrl}&limit=1000`)).json()) as {
    data: { sequence: number; type: string }[];
  };
  return page.data.map((event) => ({ id: event.sequence, type: event.type }));
}

async function waitForTerminal(eventsUrl: string): Promise<Streamed[]> {
  for (let i = 0; i < 300; i += 1) {
    const events = await storedEvents(eventsUrl);
    if (events.some((event) => ['run.completed', 'run.failed', 'run.canceled'].includes(event.type)))
      return events;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the forwarded run did not end');
}

async function runCountOn(side: NodeSide, tenantId: string): Promise<number> {
  const page = await (await side.client(tenantId)).request<{ data: unknown[] }>('GET', '/v1/runs?limit=100');
  return page.body.data.length;
}

/** A raw forward to B with `token`, as a peer (or an attacker) would send it. */
async function forwardRaw(token: string, body: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${b.url}/v1/federation/runs:forward`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': `raw-${crypto.randomUUID()}`,
      traceparent,
    },
    body: JSON.stringify({
      protocol_version: 'agentos-federation/1.0',
      agent_id: 'sample-agent',
      input: { messages: [{ role: 'user', content: 'hello' }] },
      origin: { node_id: a.nodeId },
      ...body,
    }),
  });
}

const claims = (overrides: Partial<PeerTokenClaims> = {}): PeerTokenClaims => ({
  audience: b.nodeId,
  tenantId: 'acme',
  principal: 'user-acme',
  scopes: ['federation:forward'],
  traceparent,
  ...overrides,
});

/** `agentos peers add --discover` on `on`'s operator CLI, trusting `peer` for the mapped tenants. */
async function trust(on: NodeSide, peer: NodeSide, tenantMaps: string[]): Promise<CliResult> {
  const maps = tenantMaps.flatMap((map) => ['--tenant-map', map]);
  const env = { AGENTOS_STATE_DIR: stateDir, AGENTOS_REPORTS_DIR: reportsDir };
  const args = ['peers', 'add', peer.nodeId, '--url', peer.url, '--discover', ...maps];
  return runCli(env, [...args, '--local', '--node-id', on.nodeId]);
}

beforeAll(async () => {
  const started = Date.now();
  nodes = await startTwoNodes();
  ({ a, b } = nodes);
  await Promise.all([
    a.seed('acme'),
    a.seed('globex'),
    a.seed('tight'),
    a.seed('frugal'),
    b.seed('frugal'),
    b.seed('acme-b'),
    b.seed('globex'),
    b.seed('tight'),
  ]);
  stateDir = await mkdtemp(join(tmpdir(), 'agentos-state-'));
  reportsDir = await mkdtemp(join(tmpdir(), 'agentos-reports-'));
  await Promise.all([
    a.writeCliState(stateDir),
    b.writeCliState(stateDir),
    a.seed('operator'),
    b.seed('operator'),
  ]);
  // Each operator trusts the other node through the CLI, as docs/federation.md tells them to.
  trusted.push(
    ...(await Promise.all([
      trust(b, a, ['acme-b=acme', 'tight', 'frugal']),
      trust(a, b, ['acme=acme-b', 'tight', 'globex', 'frugal']),
    ])),
  );
  if (trusted.some((result) => result.code !== 0))
    throw new Error(`agentos peers add failed: ${trusted.map((result) => result.stderr).join('\n')}`);
  forwarder = createRunForwarder({
    nodeId: a.nodeId,
    // A's own registry, on A's table: what A's operator added.
    peers: new DynamoPeerRegistry(createDocumentClient(testAwsConfig()), a.resources.tableName),
    issuer: createPeerTokenIssuer({ nodeId: a.nodeId, key: a.keys()[0]! }),
  });
  console.info(`two nodes up and federated in ${Date.now() - started} ms`);
});

afterAll(async () => {
  await nodes?.stop();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  if (reportsDir !== undefined) await rm(reportsDir, { recursive: true, force: true });
  // No node process may outlive the file.
  if ((a?.alive() ?? 0) + (b?.alive() ?? 0) > 0) throw new Error('a node process is still running');
});

describe('two federated nodes in two processes', { timeout: 90_000 }, () => {
  it('returns each peer, discovered and trusted through the CLI, in the other node’s peer list', async () => {
    expect(trusted.map((result) => result.stdout)).toEqual([
      `trusted peer ${a.nodeId} for 3 tenant(s); its tokens are verified with ${a.url}/.well-known/jwks.json\n`,
      `trusted peer ${b.nodeId} for 4 tenant(s); its tokens are verified with ${b.url}/.well-known/jwks.json\n`,
    ]);
    const env = { AGENTOS_STATE_DIR: stateDir, AGENTOS_REPORTS_DIR: reportsDir };
    const onB = await runCli(env, ['peers', 'list', '--local', '--node-id', b.nodeId]);
    expect(onB.stdout).toMatch(
      new RegExp(`\\n${a.nodeId}\\s+${a.url.replaceAll('.', '\\.')}\\s+acme-b=acme,tight,frugal\\s`),
    );
  });

  it('returns B’s run to A’s forwarder, and streams it to completion across a disconnect, each event once', async () => {
    const forward = request(threeStepRunInput('sample-agent', 'fed'));
    const forwarded = await forwarder.forward(callerOn('acme'), forward);
    expect(forwarded).toMatchObject({ object: 'federation.forwarded_run', node_id: b.nodeId });
    expect(forwarded.events_url.startsWith(`${b.url}/v1/runs/${forwarded.run_id}/events?`)).toBe(true);
    // A retried forward (same key) is the same run on B.
    expect((await forwarder.forward(callerOn('acme'), forward)).run_id).toBe(forwarded.run_id);

    const first = await stream(forwarded.events_url, { stopAfter: 3 });
    expect(first.events.map((event) => event.id)).toEqual([1, 2, 3]);
    const rest = await stream(forwarded.events_url, { lastEventId: 3 });
    expect(rest.status).toBe(200);
    const all = [...first.events, ...rest.events];
    expect(all).toEqual(await storedEvents(forwarded.events_url));
    expect(all.at(-1)?.type).toBe('run.completed');

    // The run is the mapped tenant's on B, and names where it came from.
    const run = await (await b.client('acme-b')).getRun(forwarded.run_id);
    expect(run.body).toMatchObject({
      status: 'completed',
      metadata: { 'federation.origin_node_id': a.nodeId },
    });
  });

  it('returns a run a client creates on A with a target peer, replicated from B: A’s stream and B’s serve the same events, each once', async () => {
    const token = await a.token('acme');
    const idempotencyKey = `client-${crypto.randomUUID()}`;
    const create = () =>
      fetch(`${a.url}/v1/runs`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify({ ...slowRunInput('client'), target: { peer_id: b.nodeId } }),
      });
    const created = await create();
    expect(created.status).toBe(201);
    const run = (await created.json()) as {
      run_id: string;
      events_url: string;
      federation: { node_id: string; remote_run_id: string };
    };
    expect(run.federation).toMatchObject({ origin_node_id: a.nodeId, node_id: b.nodeId });
    expect(run.events_url.startsWith(`${a.url}/v1/runs/${run.run_id}/events?`)).toBe(true);
    // A retried create with the same key is the same run here, so the same run on B.
    const retried = await create();
    expect(retried.status).toBeLessThan(300);
    expect(await retried.json()).toMatchObject({
      run_id: run.run_id,
      federation: { remote_run_id: run.federation.remote_run_id },
    });

    // A's own stream serves the replicated events; a client that loses it resumes with Last-Event-ID.
    const first = await stream(run.events_url, { stopAfter: 2 });
    expect(first.events.map((event) => event.id)).toEqual([1, 2]);
    const rest = await stream(run.events_url, { lastEventId: 2 });
    expect(rest.status).toBe(200);
    const onA = [...first.events, ...rest.events];
    expect(onA.map((event) => event.id)).toEqual(onA.map((_, i) => i + 1));
    expect(onA.at(-1)?.type).toBe('run.completed');
    expect(onA).toEqual(await storedEvents(run.events_url));
    const page = (await (await fetch(`${run.events_url}&limit=1000`)).json()) as {
      data: { node_id?: string }[];
    };
    expect(new Set(page.data.map((event) => event.node_id))).toEqual(new Set([b.nodeId]));

    const here = await (await a.client('acme')).getRun(run.run_id);
    expect(here.body).toMatchObject({
      status: 'completed',
      federation: {
        node_id: b.nodeId,
        remote_run_id: run.federation.remote_run_id,
        replicated_sequence: onA.length,
      },
    });
    // The same run on B, read through B's API, streams the same events.
    const there = await (
      await b.client('acme-b')
    ).request<{ status: string; events_url: string }>('GET', `/v1/runs/${run.federation.remote_run_id}`);
    expect(there.body).toMatchObject({
      status: 'completed',
      metadata: { 'federation.origin_run_id': run.run_id },
    });
    expect((await stream(there.body.events_url)).events).toEqual(onA);
  });

  it('throws unauthorized for a forged, expired, wrong-audience or replayed peer token', async () => {
    const own = createPeerTokenIssuer({ nodeId: a.nodeId, key: a.keys()[0]! });
    // Forged: signed with another key under the kid A publishes.
    const impostor = { ...(await generateSigningKey('forged')), kid: a.keys()[0]!.kid };
    const forged = await createPeerTokenIssuer({ nodeId: a.nodeId, key: impostor }).issue(claims());
    const expired = await createPeerTokenIssuer({
      nodeId: a.nodeId,
      key: a.keys()[0]!,
      now: () => new Date(Date.now() - 10 * 60_000),
    }).issue(claims());
    const elsewhere = await own.issue(claims({ audience: 'some-other-node' }));
    for (const [label, token] of [
      ['forged', forged],
      ['expired', expired],
      ['wrong audience', elsewhere],
    ] as const) {
      const refused = await forwardRaw(token);
      expect({ label, status: refused.status }).toEqual({ label, status: 401 });
      expect(await refused.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const once = await own.issue(claims());
    expect((await forwardRaw(once)).status).toBe(201);
    const replayed = await forwardRaw(once);
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('throws forbidden when the peer is not trusted for the tenant, on B and before A calls', async () => {
    const before = await runCountOn(b, 'globex');
    const token = await createPeerTokenIssuer({ nodeId: a.nodeId, key: a.keys()[0]! }).issue(
      claims({ tenantId: 'globex', principal: 'user-globex' }),
    );
    const refused = await forwardRaw(token);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'forbidden' } });
    // A trusts B for globex, so A's forwarder calls: B's refusal is what the caller meets.
    await expect(
      forwarder.forward(callerOn('globex'), request(threeStepRunInput('sample-agent', 'g'))),
    ).rejects.toMatchObject({ code: 'forbidden' });
    // A tenant A does not federate with B is refused by A itself, as if B were unknown to it.
    await a.seed('initech');
    await expect(
      forwarder.forward(callerOn('initech'), request(threeStepRunInput('sample-agent', 'i'))),
    ).rejects.toMatchObject({ code: 'not_found', message: `Peer ${b.nodeId} not found` });
    expect(await runCountOn(b, 'globex')).toBe(before);
  });

  it('throws rate_limited when the forwarded run exceeds the tenant’s quota on B', async () => {
    const patched = await (
      await b.operator()
    ).request('PATCH', '/v1/admin/tenants/tight', {
      body: { quotas: { runs_per_second: 0.01, run_burst: 1 } },
    });
    expect(patched.status).toBe(200);
    await forwarder.forward(callerOn('tight'), request(threeStepRunInput('sample-agent', 't1')));
    const refused = await forwarder
      .forward(callerOn('tight'), request(threeStepRunInput('sample-agent', 't2')))
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AgentOsError);
    expect(refused).toMatchObject({ code: 'rate_limited' });
    expect(await runCountOn(b, 'tight')).toBe(1);
  });

  it('fails a forwarded run once it exceeds the tenant’s model budget on B', async () => {
    const operator = await b.token('operator', { subject: 'ops', scopes: ['operator'] });
    const policy = await fetch(`${b.modelPolicyUrl}/v1/admin/tenants/frugal/model-policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        entitlements: { allow: ['local/*'] },
        max_tokens: 256,
        budgets: [{ scope: 'tenant', period: 'day', limit_usd: 1, limit_tokens: 1 }],
      }),
    });
    expect(policy.status).toBe(200);
    const forwarded = await forwarder.forward(
      callerOn('frugal'),
      request(threeStepRunInput('sample-agent', 'frugal')),
    );
    const events = await waitForTerminal(forwarded.events_url);
    expect(events.at(-1)?.type).toBe('run.failed');
    const run = await (await b.client('frugal')).getRun(forwarded.run_id);
    expect(run.body).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
  });

  it('throws invalid_request for a run B’s capabilities cannot take, before anything is created on B', async () => {
    const before = await runCountOn(b, 'acme-b');
    const tooMany = request(threeStepRunInput('sample-agent', 'big'));
    tooMany.input = {
      messages: Array.from({ length: 101 }, (_, i) => ({ role: 'user' as const, content: `message ${i}` })),
    };
    await expect(forwarder.forward(callerOn('acme'), tooMany)).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('it takes at most 100'),
    });
    expect(await runCountOn(b, 'acme-b')).toBe(before);
  });

  it('keeps a forwarded run’s events URL working across a key rotation on B, and refuses it once the old key is retired', async () => {
    const rotating = request(slowRunInput('rotate'));
    const forwarded = await forwarder.forward(callerOn('acme'), rotating);
    const first = await stream(forwarded.events_url, { stopAfter: 2 });
    expect(first.events.map((event) => event.id)).toEqual([1, 2]);
    const [old] = b.keys();
    const rotated = await generateSigningKey(b.nodeId);
    // A redeploy after `agentos keys rotate`: the new key signs, the old one stays published.
    await b.restart([rotated, old!]);
    const rest = await stream(forwarded.events_url, { lastEventId: 2 });
    expect(rest.status).toBe(200);
    const all = [...first.events, ...rest.events];
    expect(all).toEqual(await waitForTerminal(forwarded.events_url));
    expect(all.at(-1)?.type).toBe('run.completed');
    // A forwards to B as before: B's rotation does not touch A's key.
    const after = await forwarder.forward(
      callerOn('acme'),
      request(threeStepRunInput('sample-agent', 'post')),
    );
    expect(after.events_url).not.toBe(forwarded.events_url);

    // A redeploy after `agentos keys retire`: URLs minted before the rotation stop opening.
    await b.restart([rotated]);
    const retired = await stream(forwarded.events_url);
    expect(retired.status).toBe(401);
    expect(JSON.parse(retired.body ?? '{}')).toMatchObject({ error: { code: 'unauthorized' } });
    // Repeating the forward with the same key answers the same run with a freshly minted URL.
    const again = await forwarder.forward(callerOn('acme'), rotating);
    expect(again.run_id).toBe(forwarded.run_id);
    expect(await storedEvents(again.events_url)).toEqual(all);
    // URLs minted with the new key still open (the JSON page: this run may be mid-step at the redeploy).
    expect((await fetch(after.events_url)).status).toBe(200);
  });
});
