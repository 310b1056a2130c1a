import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../cli/local/emulator.ts';
import { startHttpFront } from '../../../cli/local/lambda-http-front.ts';
import { installLambdaRuntimeShim } from '../../../cli/local/lambda-runtime-shim.ts';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { sampleAgent, seedTenantCatalog } from '../../../cli/local/seed.ts';
import { DynamoPeerRegistry } from '../../../functions/orchestrator/adapters/dynamodb/dynamo-peer-registry.ts';
import { DynamoRunStateStore } from '../../../functions/orchestrator/adapters/dynamodb/dynamo-run-state.ts';
import { orchestratorHttpEnv } from '../../../functions/orchestrator/composition/orchestrator-config.ts';
import { composeOrchestrator } from '../../../functions/orchestrator/composition/orchestrator-root.ts';
import { createEventPusher } from '../../../functions/orchestrator/federation/event-pusher.ts';
import { createPeerTokenIssuer } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import type { PeerTokenClaims } from '../../../functions/orchestrator/federation/peer-tokens.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { generateSigningKey } from '../../../functions/shared/auth/signing-keys.ts';
import {
  createBufferedLambdaHandler,
  createStreamingLambdaHandler,
} from '../../../functions/shared/http/lambda-adapter.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import type { ProvisionedResources } from '../../../infra/local/provision-emulator.ts';
import { apiRoutes } from '../../../infra/resources/definitions.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';
import { createTestAuth } from '../../support/test-auth.ts';
import type { TestAuth } from '../../support/test-auth.ts';
import { tenantRegistrar, testTenantDirectory } from '../../support/test-tenants.ts';

/**
 * Run forwarding from the client's side and event replication back (HLD §7.3, §7.4), over real HTTP
 * on two emulator nodes composed in this one process, each with its own configuration: east-1, where
 * the client creates the run, and west-1, which runs it. Tenant `acme` on east-1 is `acme-west` on
 * west-1; each operator trusts the other node for it. No step worker runs: west-1's run stays queued
 * until the test commits its events on west-1, as its worker would, and pushes them.
 */

type Node = {
  id: string;
  url: string;
  auth: TestAuth;
  resources: ProvisionedResources;
  close(): Promise<void>;
};

async function startNode(id: string, tiers: string[]): Promise<Node> {
  const { resources } = await provisionTestNode(id);
  const port = await freePort();
  const auth = await createTestAuth(`https://agentos.test/${id}`, undefined, {
    registerTenant: tenantRegistrar(testTenantDirectory(resources.tableName)),
  });
  const env = {
    ...process.env,
    ...auth.env(),
    ...orchestratorHttpEnv.render({
      AGENTOS_TABLE_NAME: resources.tableName,
      AGENTOS_STEP_QUEUE_URL: resources.stepQueueUrl,
      AGENTOS_DEADLINE_QUEUE_URL: resources.deadlineQueueUrl,
      AGENTOS_STATE_MACHINE_ARN: resources.stateMachineArn,
      AGENTOS_LONG_RUN_STATE_MACHINE_ARN: resources.longRunStateMachineArn,
      AGENTOS_PUBLIC_API_URL: `http://127.0.0.1:${port}`,
    }),
    AGENTOS_NODE_ID: id,
    AGENTOS_FEDERATION_MODELS: JSON.stringify({
      tiers: tiers.map((name) => ({ name })),
      backends: [{ kind: 'openai', streaming: true, tools: true }],
    }),
  };
  const root = composeOrchestrator(env);
  // Streaming handlers call `awslambda.streamifyResponse` as the Lambda runtime provides it.
  installLambdaRuntimeShim();
  const handlers = {
    orchestratorApi: createBufferedLambdaHandler(root.httpApp(), root.telemetry),
    orchestratorEvents: createStreamingLambdaHandler(root.eventsHttpApp(), root.telemetry),
  };
  const front: HttpFront = await startHttpFront({
    port,
    log: () => undefined,
    routes: apiRoutes.orchestrator.map((route) => ({
      resource: route.resource,
      method: route.method,
      functionName: route.function,
      timeoutSeconds: 30,
      handler: handlers[route.function],
    })),
  });
  return { id, url: front.url, auth, resources, close: () => front.close() };
}

async function trust(node: Node, peer: Node, tenants: { tenant_id: string; peer_tenant_id: string }[]) {
  await node.auth.registerTenant('operator');
  const operator = await node.auth.token('operator', { subject: 'ops', scopes: ['operator'] });
  const added = await fetch(`${node.url}/v1/admin/peers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      peer_id: peer.id,
      base_url: peer.url,
      jwks_url: `${peer.url}/.well-known/jwks.json`,
      tenants,
    }),
  });
  if (added.status !== 201) throw new Error(`${node.id} could not trust ${peer.id}: ${await added.text()}`);
}

let east: Node;
let west: Node;
const input = { messages: [{ role: 'user' as const, content: 'hello from east' }] };

type RunAnswer = {
  run_id: string;
  status: string;
  output: unknown;
  federation?: {
    origin_node_id: string;
    node_id: string;
    remote_run_id: string | null;
    remote_events_url: string | null;
    replicated_sequence: number;
    remote_cancel?: 'acknowledged' | 'failed';
  };
};

async function createRun(body: Record<string, unknown>, key = `k-${crypto.randomUUID()}`) {
  const token = await east.auth.token('acme', { subject: 'alice' });
  const response = await fetch(`${east.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ agent_id: 'sample-agent', input, ...body }),
  });
  return { status: response.status, body: (await response.json()) as RunAnswer & Record<string, unknown> };
}

async function eastRun(runId: string): Promise<RunAnswer> {
  const token = await east.auth.token('acme', { subject: 'alice' });
  const response = await fetch(`${east.url}/v1/runs/${runId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await response.json()) as RunAnswer;
}

type Event = { sequence: number; type: string; node_id?: string; event_id: string; run_id: string };

async function eastEvents(runId: string): Promise<Event[]> {
  const token = await east.auth.token('acme', { subject: 'alice' });
  const response = await fetch(`${east.url}/v1/runs/${runId}/events?limit=1000`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await response.json()) as { data: Event[] }).data;
}

/** The run's SSE stream on east-1 from `lastEventId`, read to its end: ids and types. */
async function eastStream(runId: string, lastEventId?: number): Promise<{ id: number; type: string }[]> {
  const token = await east.auth.token('acme', { subject: 'alice' });
  const response = await fetch(`${east.url}/v1/runs/${runId}/events`, {
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'text/event-stream',
      ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
    },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  return text
    .split('\n\n')
    .map((frame) => ({
      id: Number(/^id: (\d+)$/m.exec(frame)?.[1]),
      type: /^event: (.+)$/m.exec(frame)?.[1] ?? '',
    }))
    .filter((frame) => Number.isInteger(frame.id));
}

/** west-1's own side: its store, as its step worker commits, and its pusher. */
function westSide() {
  const db = createDocumentClient(testAwsConfig());
  const runs = new DynamoRunStateStore(db, west.resources.tableName);
  const pusher = createEventPusher({
    nodeId: 'west-1',
    runs,
    peers: new DynamoPeerRegistry(db, west.resources.tableName),
    issuer: createPeerTokenIssuer({ nodeId: 'west-1', key: west.auth.signingKey }),
  });
  return { runs, pusher };
}

/** The forwarded run's owner on west-1, as its run service recorded it. */
async function westAuth(remoteRunId: string): Promise<AuthContext> {
  const { runs } = westSide();
  const probe: AuthContext = {
    tenant_id: 'acme-west',
    principal: { id: 'peer/east-1/alice', type: 'service' },
    scopes: ['runs:read', 'runs:write'],
    policy_context: { peer_id: 'east-1' },
  };
  const run = await runs.getRun(probe, remoteRunId);
  if (run?.auth === undefined) throw new Error(`west-1 holds no run ${remoteRunId}`);
  return run.auth;
}

beforeAll(async () => {
  [east, west] = await Promise.all([startNode('east-1', ['small']), startNode('west-1', ['large'])]);
  await east.auth.registerTenant('acme');
  await west.auth.registerTenant('acme-west');
  await seedTenantCatalog({
    aws: testAwsConfig(),
    tableName: west.resources.tableName,
    tenantId: 'acme-west',
    adminPrincipal: 'admin-acme-west',
    agent: sampleAgent,
  });
  await seedTenantCatalog({
    aws: testAwsConfig(),
    tableName: east.resources.tableName,
    tenantId: 'acme',
    adminPrincipal: 'admin-acme',
    agent: sampleAgent,
  });
  await trust(east, west, [{ tenant_id: 'acme', peer_tenant_id: 'acme-west' }]);
  await trust(west, east, [{ tenant_id: 'acme-west', peer_tenant_id: 'acme' }]);
});

afterAll(async () => {
  await Promise.all([east?.close(), west?.close()]);
});

describe('a run created on east-1 with a target', { timeout: 90_000 }, () => {
  it('returns a run linked to the run west-1 created, and the same run for the same Idempotency-Key', async () => {
    const key = `k-${crypto.randomUUID()}`;
    const created = await createRun({ target: { peer_id: 'west-1' } }, key);
    expect(created.status).toBe(201);
    expect(created.body.federation).toMatchObject({
      origin_node_id: 'east-1',
      node_id: 'west-1',
      remote_run_id: expect.stringMatching(/^run_/),
      remote_events_url: `${west.url}/v1/runs/${created.body.federation?.remote_run_id}/events`,
    });
    const again = await createRun({ target: { peer_id: 'west-1' } }, key);
    expect(again.status).toBe(200);
    expect(again.body.run_id).toBe(created.body.run_id);
    expect(again.body.federation?.remote_run_id).toBe(created.body.federation?.remote_run_id);
    expect((await eastRun(created.body.run_id)).federation?.remote_run_id).toBe(
      created.body.federation?.remote_run_id,
    );
  });

  it('serves the peer’s events as its own, resumable, once west-1 pushes them', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const runId = created.body.run_id;
    const remoteRunId = created.body.federation!.remote_run_id!;
    // west-1 pushed run.queued as it created the run.
    expect((await eastEvents(runId)).map((event) => [event.type, event.node_id, event.run_id])).toEqual([
      ['run.queued', 'west-1', runId],
    ]);
    const { runs, pusher } = westSide();
    const auth = await westAuth(remoteRunId);
    await runs.commit(auth, remoteRunId, {
      requireStatus: ['queued'],
      status: 'running',
      events: [{ event_id: `${remoteRunId}:run.started`, type: 'run.started', data: { status: 'running' } }],
    });
    await runs.commit(auth, remoteRunId, {
      requireStatus: ['running'],
      status: 'completed',
      changes: { output: { message: { role: 'assistant', content: 'hi east' } } },
      events: [
        {
          event_id: `${remoteRunId}:run.terminal`,
          type: 'run.completed',
          data: { status: 'completed', output: { message: { role: 'assistant', content: 'hi east' } } },
        },
      ],
    });
    // Pushed as if east-1 held only run.queued; a repeated push changes nothing.
    expect(await pusher.push(auth, remoteRunId, 1)).toBe(3);
    expect(await pusher.push(auth, remoteRunId, 0)).toBe(3);

    expect(await eastRun(runId)).toMatchObject({
      status: 'completed',
      output: { message: { role: 'assistant', content: 'hi east' } },
      federation: { replicated_sequence: 3 },
    });
    expect((await eastEvents(runId)).map((event) => [event.sequence, event.type, event.node_id])).toEqual([
      [1, 'run.queued', 'west-1'],
      [2, 'run.started', 'west-1'],
      [3, 'run.completed', 'west-1'],
    ]);
    expect(await eastStream(runId)).toEqual([
      { id: 1, type: 'run.queued' },
      { id: 2, type: 'run.started' },
      { id: 3, type: 'run.completed' },
    ]);
    expect(await eastStream(runId, 1)).toEqual([
      { id: 2, type: 'run.started' },
      { id: 3, type: 'run.completed' },
    ]);
  });

  it('resends from what east-1 holds when a push was lost', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const runId = created.body.run_id;
    const remoteRunId = created.body.federation!.remote_run_id!;
    const { runs, pusher } = westSide();
    const auth = await westAuth(remoteRunId);
    await runs.commit(auth, remoteRunId, {
      requireStatus: ['queued'],
      status: 'running',
      events: [{ event_id: `${remoteRunId}:run.started`, type: 'run.started', data: { status: 'running' } }],
    });
    await runs.commit(auth, remoteRunId, {
      requireStatus: ['running'],
      events: [{ event_id: `${remoteRunId}:s1:step.started`, type: 'step.started', data: { step: 1 } }],
    });
    // The push of run.started never happened: pushing step.started alone leaves a gap east-1 names.
    expect(await pusher.push(auth, remoteRunId, 2)).toBe(3);
    expect((await eastEvents(runId)).map((event) => event.type)).toEqual([
      'run.queued',
      'run.started',
      'step.started',
    ]);
  });

  it('replicates a run of more events than one batch or one transaction holds, complete and in order', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const runId = created.body.run_id;
    const remoteRunId = created.body.federation!.remote_run_id!;
    const { runs, pusher } = westSide();
    const auth = await westAuth(remoteRunId);
    for (let first = 1; first <= 120; first += 40) {
      await runs.commit(auth, remoteRunId, {
        requireStatus: ['queued'],
        events: Array.from({ length: 40 }, (_, i) => ({
          event_id: `${remoteRunId}:s${first + i}:step.started`,
          type: 'step.started' as const,
          data: { step: first + i },
        })),
      });
    }
    expect(await pusher.push(auth, remoteRunId, 1)).toBe(121);
    const events = await eastEvents(runId);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 121 }, (_, i) => i + 1));
    expect((await eastRun(runId)).federation?.replicated_sequence).toBe(121);
  });

  it('catches up on events west-1 never pushed when the client retries the create with its key', async () => {
    const key = `k-${crypto.randomUUID()}`;
    const created = await createRun({ target: { peer_id: 'west-1' } }, key);
    const runId = created.body.run_id;
    const remoteRunId = created.body.federation!.remote_run_id!;
    const { runs } = westSide();
    const auth = await westAuth(remoteRunId);
    // Committed on west-1 while east-1 was unreachable: no push delivered them.
    await runs.commit(auth, remoteRunId, {
      requireStatus: ['queued'],
      status: 'failed',
      changes: { error: { code: 'dependency_unavailable', message: 'no model' } },
      events: [
        {
          event_id: `${remoteRunId}:run.terminal`,
          type: 'run.failed',
          data: { status: 'failed', error: { code: 'dependency_unavailable', message: 'no model' } },
        },
      ],
    });
    expect((await eastRun(runId)).status).toBe('queued');
    const retried = await createRun({ target: { peer_id: 'west-1' } }, key);
    expect(retried).toMatchObject({
      status: 200,
      body: {
        run_id: runId,
        status: 'failed',
        error: { code: 'dependency_unavailable', message: 'no model' },
      },
    });
    expect((await eastEvents(runId)).map((event) => event.type)).toEqual(['run.queued', 'run.failed']);
  });

  it('cancels the run on west-1 too when the client cancels it on east-1, and again on a repeated cancel', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const runId = created.body.run_id;
    const remoteRunId = created.body.federation!.remote_run_id!;
    const token = await east.auth.token('acme', { subject: 'alice' });
    const cancel = async () => {
      const response = await fetch(`${east.url}/v1/runs/${runId}:cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      return { status: response.status, body: (await response.json()) as RunAnswer };
    };
    const first = await cancel();
    expect(first).toMatchObject({
      status: 200,
      body: { status: 'canceled', federation: { node_id: 'west-1', remote_cancel: 'acknowledged' } },
    });
    const { runs } = westSide();
    expect(await runs.getRun(await westAuth(remoteRunId), remoteRunId)).toMatchObject({ status: 'canceled' });
    expect(await cancel()).toMatchObject({
      status: 200,
      body: { status: 'canceled', federation: { remote_cancel: 'acknowledged' } },
    });
    // A read of the run says nothing of a cancel: that is the cancel's own answer.
    expect((await eastRun(runId)).federation).not.toHaveProperty('remote_cancel');
  });

  it('answers a tenant that does not federate with the peer 404 as for an unknown peer, creating nothing', async () => {
    const token = await east.auth.token('globex', { subject: 'bob' });
    const response = await fetch(`${east.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: 'sample-agent', input, target: { peer_id: 'west-1' } }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      error: { code: 'not_found', message: 'Peer west-1 not found' },
    });
    const runs = await fetch(`${east.url}/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await runs.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('goes where its model tier is offered, and is refused when no node offers it', async () => {
    const remote = await createRun({ target: { model_tier: 'large' } });
    expect(remote.status).toBe(201);
    expect(remote.body.federation?.node_id).toBe('west-1');
    const local = await createRun({ target: { model_tier: 'small' } });
    expect(local.status).toBe(201);
    expect(local.body.federation).toBeUndefined();
    const nowhere = await createRun({ target: { model_tier: 'huge' } });
    expect(nowhere).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', message: expect.stringContaining('model tier huge') } },
    });
  });
});

describe('POST /v1/federation/events:ingest on east-1', { timeout: 90_000 }, () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const claims: PeerTokenClaims = {
    audience: 'east-1',
    tenantId: 'acme-west',
    principal: 'agentos-event-replicator',
    scopes: ['federation:ingest'],
    traceparent,
  };
  const event = (runId: string) => ({
    object: 'event',
    event_id: `x:${crypto.randomUUID()}`,
    run_id: runId,
    sequence: 1,
    type: 'run.started',
    time: new Date().toISOString(),
    data: { status: 'running' },
  });

  async function ingest(token: string, body: unknown) {
    const response = await fetch(`${east.url}/v1/federation/events:ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const westToken = (over: Partial<PeerTokenClaims> = {}) =>
    createPeerTokenIssuer({ nodeId: 'west-1', key: west.auth.signingKey }).issue({ ...claims, ...over });

  it('throws not_found alike for a local run of the tenant and a run that does not exist', async () => {
    const local = await createRun({});
    const localRun = await ingest(await westToken(), {
      source_node_id: 'west-1',
      events: [event(local.body.run_id)],
    });
    const missing = await ingest(await westToken(), {
      source_node_id: 'west-1',
      events: [event('run_0000000000000000000000none')],
    });
    expect(localRun.status).toBe(404);
    expect(missing.status).toBe(404);
    expect((localRun.body['error'] as { code: string }).code).toBe('not_found');
    // The tenant's own run is untouched, its events named as this node's.
    expect((await eastEvents(local.body.run_id)).map((e) => [e.type, e.node_id])).toEqual([
      ['run.queued', 'east-1'],
    ]);
  });

  it('refuses a tenant the peer may not act for with 403, and an untrusted node or a tenant token with 401', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const body = { source_node_id: 'west-1', events: [event(created.body.run_id)] };
    expect((await ingest(await westToken({ tenantId: 'globex' }), body)).status).toBe(403);
    const stranger = createPeerTokenIssuer({ nodeId: 'south-1', key: await generateSigningKey('south') });
    expect((await ingest(await stranger.issue(claims), { ...body, source_node_id: 'south-1' })).status).toBe(
      401,
    );
    const tenantToken = await east.auth.token('acme', { scopes: ['federation:ingest'] });
    expect((await ingest(tenantToken, body)).status).toBe(401);
  });

  it('refuses a source other than the calling peer with 400', async () => {
    const created = await createRun({ target: { peer_id: 'west-1' } });
    const answer = await ingest(await westToken(), {
      source_node_id: 'south-1',
      events: [event(created.body.run_id)],
    });
    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });
});
