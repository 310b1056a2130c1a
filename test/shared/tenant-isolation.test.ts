import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopes } from '../../functions/shared/auth/auth-context.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput } from '../support/run-events.ts';

/**
 * The isolation suite (HLD §5.1, §5.2), generated from every OpenAPI document committed in schemas/:
 * every operation is attacked here with tenant B's token, holding every scope, aimed at tenant A's
 * resources — designed-only operations must answer that they are not served, public routes must hold
 * nothing of A's — or is exempted by name below with a reason. A new document or operation fails the
 * suite until it is classified, and so does an exemption nothing matches any more.
 */

type Operation = {
  document: string;
  method: string;
  path: string;
  operationId: string;
  /** Designed, not served yet (`x-implemented: false`). */
  designed: boolean;
  /** The scope the operation requires; undefined when it declares no security of its own (public). */
  scope: string | undefined;
  pathParams: string[];
  queryParams: string[];
  /** The media types of its success answers (JSON, server-sent events). */
  mediaTypes: string[];
};

type OpenApiOperation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name?: string; in?: string }[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
  'x-implemented'?: boolean;
};

const documentSuffix = '.openapi.json';

/** Every committed document (schemas/baseline holds the accepted surface the additive guard compares, not a served one). */
const documents = readdirSync('schemas')
  .filter((file) => file.endsWith(documentSuffix))
  .map((file) => file.slice(0, -documentSuffix.length))
  .sort();

function operationsOf(document: string): Operation[] {
  const parsed = JSON.parse(readFileSync(`schemas/${document}${documentSuffix}`, 'utf8')) as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(parsed.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const parameters = operation.parameters ?? [];
      const success = Object.entries(operation.responses ?? {}).filter(([status]) => status.startsWith('2'));
      operations.push({
        document,
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        designed: operation['x-implemented'] === false,
        scope: operation.security?.[0]?.['bearerAuth']?.[0],
        pathParams: [...path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]!),
        queryParams: parameters.filter((p) => p.in === 'query' && p.name !== undefined).map((p) => p.name!),
        mediaTypes: [...new Set(success.flatMap(([, answer]) => Object.keys(answer.content ?? {})))].sort(),
      });
    }
  }
  return operations;
}

/**
 * Which service of the node serves each document. The Federation API is served by the Agent
 * Orchestrator between peer nodes (HLD §7).
 */
const serviceOf: Record<string, (node: TestNode) => string> = {
  orchestrator: (n) => n.node.orchestratorUrl,
  'model-policy': (n) => n.node.modelPolicyUrl,
  federation: (n) => n.node.orchestratorUrl,
};

/**
 * Public routes, which carry no token and so no tenant: each, by `document operationId`, with why it
 * holds nothing of any tenant's. The suite still calls each with B's token and without one, and finds
 * nothing of A's.
 */
const publicRoutes: Record<string, string> = {
  'orchestrator getHealth': 'liveness of the function itself; it reads no table',
  'orchestrator getReadiness': 'reachability of the node’s dependencies, the same for every tenant',
  'orchestrator getJwks': 'the node’s public signing keys, published so anyone can verify its tokens',
  'federation getPeerInfo': 'the node’s id, release and public URLs, the same for every tenant',
  'federation getPeerCapabilities':
    'the node’s features, limits and advertised models; it lists no tenant’s agents (skills is empty)',
  'model-policy getHealth': 'liveness of the function itself; it reads no table',
  'model-policy getReadiness': 'reachability of the node’s dependencies, the same for every tenant',
};

/**
 * Authenticated operations, by `document operationId`, not attacked with A's ids by the generated
 * tests, each with its reason; where the reason names another test of this file, that test does the
 * attacking.
 */
const exempt: Record<string, string> = {
  'model-policy listModels': 'the model catalog is the node’s, the same for every tenant entitled to it',
  'model-policy getModel': 'the model catalog is the node’s, the same for every tenant entitled to it',
  'model-policy checkPolicy':
    'reads only the caller’s tenant’s policy and budgets; attributed to A’s run it is attacked below (answers as for an unknown run)',
  'model-policy createChatCompletion':
    'calls a model for the caller’s tenant and names no other resource; the usage it meters is attacked through getUsage',
  'model-policy createResponse':
    'calls a model for the caller’s tenant and names no other resource (nothing is stored to refer to); the usage it meters is attacked through getUsage',
  'model-policy createEmbedding':
    'embeds for the caller’s tenant and names no other resource; its request ids are the caller’s as on chat; the usage it meters is attacked through getUsage',
  'model-policy invokeModel':
    'calls a model for the caller’s tenant; with A’s request and run ids it is attacked below (B’s own; A’s run usage unchanged)',
  'orchestrator createRun':
    'creates in the caller’s tenant; B’s run of A’s agent id is attacked below (agent not found)',
  'orchestrator createBackgroundResponse':
    'creates in the caller’s tenant as createRun does; B’s response for A’s agent id is attacked below (agent not found)',
  'federation forwardRun':
    'takes peer tokens only (a tenant’s token is refused 401); the tenant comes from the calling peer’s mapping, and a peer not trusted for a tenant is refused 403 in test/orchestrator/federation/run-forwarding.test.ts',
  'federation cancelForwardedRun':
    'takes peer tokens only (a tenant’s token is refused 401); a run another peer forwarded, a local run or another tenant’s run answers 404 like a missing one, in test/orchestrator/federation/forward-cancel.unit.test.ts',
  'federation ingestEvents':
    'takes peer tokens only (a tenant’s token is refused 401); a run this tenant did not forward to the calling peer answers 404 like a missing one, and a peer not trusted for a tenant is refused 403, in test/orchestrator/federation/federated-runs.test.ts',
  'orchestrator a2aJsonRpc':
    'one endpoint of many methods, dispatched by the body; B’s send to A’s agent and B’s reads of A’s task are attacked below (not found)',
};

/**
 * Creations, by `document operationId`, that take their id in the body: B creates one with A's id, which must succeed as B's
 * own (a conflict would tell B that A's exists) and leave A's unchanged.
 */
const creations: Record<string, { body: () => unknown }> = {
  'orchestrator createAgent': {
    body: () => ({ agent_id: fixtures['agent_id'], name: 'b', model_ref: 'local/echo', instructions: 'b' }),
  },
  'orchestrator createTool': {
    body: () => ({
      tool_id: fixtures['tool_id'],
      description: 'b',
      parameters: { type: 'object' },
      http: { method: 'GET', url: 'https://example.com/b' },
    }),
  },
};

const marker = `secret-of-a-${crypto.randomUUID()}`;
const a = 'iso-a';
const b = 'iso-b';

let node: TestNode;
let tokenA: string;
let tokenB: string;
/** A's resource ids, by path parameter name. */
const fixtures: Record<string, string> = {};

function baseUrl(operation: Operation): string {
  const service = serviceOf[operation.document];
  if (service === undefined) throw new Error(`no service of the node serves ${operation.document}`);
  return service(node);
}

async function call(
  url: string,
  method: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, text: await response.text() };
}

/** Setup refuses to go on with an answer it did not expect (the tests would prove nothing). */
function must(answer: { status: number; text: string }, ...statuses: number[]): void {
  if (!statuses.includes(answer.status))
    throw new Error(`setup got ${answer.status}, expected ${statuses.join(' or ')}: ${answer.text}`);
}

/** A's path with A's ids (`{key+}` and `{name}` alike), percent-encoded per segment. */
function pathFor(operation: Operation): string {
  return operation.path.replace(/\{(\w+)\+?\}/g, (_, name: string) => {
    const value = fixtures[name];
    if (value === undefined) throw new Error(`no fixture of A for path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

/** A body a mutation would accept from its own tenant, so only isolation can refuse it. */
function bodyFor(operation: Operation): unknown {
  switch (operation.operationId) {
    case 'updateAgent':
      return { name: 'b', model_ref: 'local/echo', instructions: 'b' };
    case 'updateTool':
      return {
        description: 'b',
        parameters: { type: 'object' },
        http: { method: 'GET', url: 'https://example.com/b' },
      };
    case 'putMemoryEntry':
      return { value: 'b' };
    default:
      return ['POST', 'PUT', 'PATCH'].includes(operation.method) ? {} : undefined;
  }
}

const everyScope = [...new Set([...Object.values(scopes)])];

beforeAll(async () => {
  node = await startTestNode();
  await node.seed(a, { instructions: marker });
  await node.seed(b);
  tokenA = await node.auth.token(a, { scopes: everyScope });
  tokenB = await node.auth.token(b, { scopes: everyScope });
  const orchestrator = node.node.orchestratorUrl;
  const run = await call(
    `${orchestrator}/v1/runs`,
    'POST',
    tokenA,
    { ...scriptedInput('sample-agent', [{ reply: marker }], marker), metadata: { note: marker } },
    { 'idempotency-key': `iso-${marker}` },
  );
  must(run, 201);
  fixtures['run_id'] = (JSON.parse(run.text) as { run_id: string }).run_id;
  // The same run as an OpenAI-style background response.
  fixtures['response_id'] = `resp_${fixtures['run_id'].slice('run_'.length)}`;
  for (let i = 0; i < 300; i += 1) {
    const state = await call(`${orchestrator}/v1/runs/${fixtures['run_id']}`, 'GET', tokenA);
    if (state.text.includes('"completed"')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  fixtures['version'] = '1';
  const agent = await call(`${orchestrator}/v1/agents`, 'POST', tokenA, {
    agent_id: 'only-a',
    name: marker,
    model_ref: 'local/echo',
    instructions: marker,
  });
  must(agent, 201);
  fixtures['agent_id'] = 'only-a';
  const tool = await call(`${orchestrator}/v1/tools`, 'POST', tokenA, {
    tool_id: 'a-tool',
    description: marker,
    parameters: { type: 'object' },
    http: { method: 'GET', url: 'https://example.com/a' },
  });
  must(tool, 201);
  fixtures['tool_id'] = 'a-tool';
  fixtures['namespace'] = 'a-space';
  fixtures['key'] = 'a-key';
  const memory = await call(`${orchestrator}/v1/memory/a-space/a-key`, 'PUT', tokenA, { value: marker });
  must(memory, 200, 201);
  fixtures['tenant_id'] = a;
  // Peers are the node's, no tenant's: only the operator routes name them, refused to any tenant.
  fixtures['peer_id'] = 'a-peer';
  fixtures['model_ref'] = 'local/echo';
  const principal = await call(`${orchestrator}/v1/tenant/principals/a-principal`, 'PUT', tokenA, {
    display_name: marker,
    scopes: ['runs:read'],
  });
  must(principal, 200, 201);
  fixtures['principal_id'] = 'a-principal';
  const issued = await call(`${orchestrator}/v1/tenant/principals/a-principal/tokens`, 'POST', tokenA, {});
  must(issued, 201);
  fixtures['token_id'] = (JSON.parse(issued.text) as { token_id: string }).token_id;
  // The request id of A’s first model call (the Orchestrator names it `<run_id>/step-<n>`), from A’s steps.
  const steps = await call(`${orchestrator}/v1/runs/${fixtures['run_id']}/steps`, 'GET', tokenA);
  must(steps, 200);
  const first = (JSON.parse(steps.text) as { data: { step: number }[] }).data[0];
  if (first === undefined) throw new Error(`A's run took no step: ${steps.text}`);
  fixtures['request_id'] = `${fixtures['run_id']}/step-${first.step}`;
}, 120_000);

afterAll(async () => {
  await node?.stop();
});

const operations = documents.flatMap(operationsOf);

const keyOf = (op: Operation) => `${op.document} ${op.operationId}`;
const isAdmin = (op: Operation) => op.path.startsWith('/v1/admin/');
const isListing = (op: Operation) => /^(list|search)/.test(op.operationId);
const served = operations.filter((op) => !op.designed);
const designed = operations.filter((op) => op.designed);
const publicOps = served.filter((op) => op.scope === undefined);
const authenticated = served.filter((op) => op.scope !== undefined);
const attacked = authenticated.filter(
  (op) => exempt[keyOf(op)] === undefined && creations[keyOf(op)] === undefined,
);
const admin = attacked.filter(isAdmin);
const byId = attacked.filter((op) => !isAdmin(op) && op.pathParams.length > 0);
const listings = attacked.filter((op) => !isAdmin(op) && op.pathParams.length === 0 && op.method === 'GET');
const created = authenticated.filter((op) => creations[keyOf(op)] !== undefined);

const pathParamNames = new Set(operations.flatMap((op) => op.pathParams));
/** A query parameter that names a resource: `…_id`, or the name of one (`principal` → `principal_id`). */
const namesAnId = (name: string) => name.endsWith('_id') || pathParamNames.has(`${name}_id`);
/** A's id for a query parameter that names one. */
function queryFixture(name: string): string {
  const id = fixtures[name] ?? fixtures[`${name}_id`];
  if (id === undefined) throw new Error(`no fixture of A for query parameter ${name}`);
  return id;
}
/** An id of the same shape as A's that names nothing. */
const unknownLike = (id: string) => (id.startsWith('run_') ? `run_${'0'.repeat(26)}` : `${id}-none`);
/** An answer with its correlation id (fresh on every request) left out. */
const comparable = (text: string) => text.replace(/"correlation_id":"[^"]*"/g, '"correlation_id":""');

/** Nothing that names A's data: the marker planted in all of it, and A's ids. */
function expectNothingOfA(text: string): void {
  expect(text).not.toContain(marker);
  expect(text).not.toContain(fixtures['run_id']!);
  expect(text).not.toContain('only-a');
  expect(text).not.toContain('a-tool');
  expect(text).not.toContain('a-principal');
  expect(text).not.toContain(fixtures['token_id']!);
}

/**
 * B's token on A's resource, once per media type the operation answers in (a run's events as a JSON
 * page and as a server-sent event stream alike).
 */
function attackById(operation: Operation): void {
  const forms = operation.mediaTypes.length > 0 ? operation.mediaTypes : [undefined];
  for (const accept of forms) {
    const form = forms.length > 1 ? ` (${accept})` : '';
    it(`${operation.method} ${operation.path}${form}: B's token on A's resource gets no data of A`, async () => {
      const query = operation.operationId === 'searchMemory' ? `?q=${marker}` : '';
      const answer = await call(
        `${baseUrl(operation)}${pathFor(operation)}${query}`,
        operation.method,
        tokenB,
        bodyFor(operation),
        accept === undefined ? {} : { accept },
      );
      expect(answer.text).not.toContain(marker);
      // A PUT creates or replaces B's own resource of that id (or is refused), never A's; a listing
      // under a name (a memory namespace) is B's own, empty one; anything else of A's is not found.
      const expected =
        operation.method === 'PUT' ? [200, 201, 400, 404, 409] : isListing(operation) ? [200, 404] : [404];
      expect({ status: answer.status, text: answer.text }).toMatchObject({
        status: expect.toBeOneOf(expected),
      });
      // A listing names no key or token of A's (other answers may echo the caller's own path).
      const listed = isListing(operation) ? answer.text : '';
      expect(listed).not.toContain(fixtures['key']!);
      expect(listed).not.toContain(fixtures['token_id']!);
    });
  }
}

describe('tenant isolation, generated from the OpenAPI documents', () => {
  it('loads every committed document, each served by a service of the node', () => {
    expect(documents).toEqual(expect.arrayContaining(['federation', 'model-policy', 'orchestrator']));
    expect(documents.filter((document) => serviceOf[document] === undefined)).toEqual([]);
  });

  it('classifies every operation as attacked or exempted by name with a reason', () => {
    const unclassified = [
      ...publicOps.filter((op) => publicRoutes[keyOf(op)] === undefined),
      ...attacked.filter((op) => !isAdmin(op) && op.pathParams.length === 0 && op.method !== 'GET'),
    ];
    expect(unclassified.map((op) => `${op.document}: ${op.method} ${op.path}`)).toEqual([]);
    const stale = [
      ...Object.keys(publicRoutes).filter((key) => !publicOps.some((op) => keyOf(op) === key)),
      ...[...Object.keys(exempt), ...Object.keys(creations)].filter(
        (key) => !authenticated.some((op) => keyOf(op) === key),
      ),
    ];
    expect(stale).toEqual([]);
    const reasonless = [...Object.entries(publicRoutes), ...Object.entries(exempt)].filter(
      ([, reason]) => reason.trim() === '',
    );
    expect(reasonless).toEqual([]);
  });

  for (const operation of designed) {
    it(`${operation.document}: ${operation.method} ${operation.path}: designed only, not served to B`, async () => {
      const path = operation.pathParams.length > 0 ? pathFor(operation) : operation.path;
      const answer = await call(`${baseUrl(operation)}${path}`, operation.method, tokenB, bodyFor(operation));
      // No node serves it yet: the router knows no such route, whatever the caller.
      expect({ status: answer.status, text: answer.text }).toMatchObject({
        status: 404,
        text: expect.stringContaining(`No route for ${operation.method}`),
      });
      expectNothingOfA(answer.text);
    });
  }

  for (const operation of publicOps) {
    it(`${operation.document}: ${operation.method} ${operation.path}: public, holds nothing of A's`, async () => {
      for (const token of [tokenB, undefined]) {
        const answer = await call(`${baseUrl(operation)}${operation.path}`, operation.method, token);
        expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 200 });
        expectNothingOfA(answer.text);
      }
    });
  }

  // Upserts last: B's PUT creates B's own resource of A's id, which later reads would then find; and
  // B's creations of A's ids go just before them for the same reason.
  const ordered = [...byId.filter((op) => op.method !== 'PUT'), ...byId.filter((op) => op.method === 'PUT')];

  for (const operation of admin) {
    it(`${operation.method} ${operation.path}: refused to a tenant that is not the platform's`, async () => {
      const path = operation.pathParams.length > 0 ? pathFor(operation) : operation.path;
      const answer = await call(`${baseUrl(operation)}${path}`, operation.method, tokenB, bodyFor(operation));
      expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 403 });
      expect(answer.text).not.toContain(marker);
    });
  }

  for (const operation of listings) {
    it(`${operation.method} ${operation.path}: B's listing never shows A's items`, async () => {
      const answer = await call(`${baseUrl(operation)}${operation.path}`, 'GET', tokenB);
      expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 200 });
      expectNothingOfA(answer.text);
    });
    for (const name of operation.queryParams.filter(namesAnId)) {
      it(`${operation.method} ${operation.path}?${name}= of A's: B learns nothing it would not of an unknown id`, async () => {
        const id = queryFixture(name);
        const unknown = unknownLike(id);
        const url = `${baseUrl(operation)}${operation.path}?${name}=`;
        const answer = await call(`${url}${encodeURIComponent(id)}`, 'GET', tokenB);
        const control = await call(`${url}${encodeURIComponent(unknown)}`, 'GET', tokenB);
        expect(answer.text).not.toContain(marker);
        expect([200, 404]).toContain(answer.status);
        // The same answer as for an id that names nothing (B's own query echoed, at most).
        expect({ status: answer.status, text: comparable(answer.text.replaceAll(id, unknown)) }).toEqual({
          status: control.status,
          text: comparable(control.text),
        });
      });
    }
  }

  it("B's usage of A's run holds none of A's usage", async () => {
    const url = `${node.node.modelPolicyUrl}/v1/usage?run_id=${fixtures['run_id']}`;
    // A's own view first: the run did meter usage, so B's empty answer proves something.
    const own = await call(url, 'GET', tokenA);
    expect(own.status).toBe(200);
    expect((JSON.parse(own.text) as { totals: { calls: number } }).totals.calls).toBeGreaterThan(0);
    const answer = await call(url, 'GET', tokenB);
    expect(answer.text).not.toContain(marker);
    expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 200 });
    expect(JSON.parse(answer.text)).toMatchObject({
      tenant_id: b,
      totals: { calls: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0 },
    });
  });

  it("B's policy check attributed to A's run answers as for an unknown run", async () => {
    const check = (runId: string) =>
      call(`${node.node.modelPolicyUrl}/v1/policy/check`, 'POST', tokenB, {
        model_ref: 'local/echo',
        messages: [{ role: 'user', content: 'x' }],
        attribution: { run_id: runId },
      });
    const id = fixtures['run_id']!;
    const unknown = unknownLike(id);
    const answer = await check(id);
    const control = await check(unknown);
    expect(answer.text).not.toContain(marker);
    expect({ status: answer.status, text: comparable(answer.text.replaceAll(id, unknown)) }).toEqual({
      status: control.status,
      text: comparable(control.text),
    });
  });

  it("B's model call with A's request id, attributed to A's run, is B's own and meters nothing to A's run", async () => {
    const usage = async () =>
      (await call(`${node.node.modelPolicyUrl}/v1/usage?run_id=${fixtures['run_id']}`, 'GET', tokenA)).text;
    const before = await usage();
    const answer = await call(
      `${node.node.modelPolicyUrl}/v1/models/${encodeURIComponent('local/echo')}:invoke`,
      'POST',
      tokenB,
      // A's request id too: a replay of A's answer would carry A's marker.
      {
        request_id: fixtures['request_id'],
        messages: [{ role: 'user', content: 'x' }],
        attribution: { run_id: fixtures['run_id'], step: 1 },
      },
    );
    expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 200 });
    expect(answer.text).not.toContain(marker);
    expect(await usage()).toBe(before);
  });

  it("B cannot start a run of A's agent", async () => {
    const answer = await call(`${node.node.orchestratorUrl}/v1/runs`, 'POST', tokenB, {
      agent_id: 'only-a',
      input: { messages: [{ role: 'user', content: 'x' }] },
    });
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(marker);
  });

  it("B cannot start a background response of A's agent", async () => {
    const answer = await call(`${node.node.orchestratorUrl}/v1/responses`, 'POST', tokenB, {
      model: 'only-a',
      input: 'x',
      background: true,
    });
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(marker);
  });

  it("B's A2A send to A's agent and B's A2A reads of A's task find nothing", async () => {
    const rpc = (agentId: string, method: string, params: unknown) =>
      call(`${node.node.orchestratorUrl}/v1/a2a/${agentId}`, 'POST', tokenB, {
        jsonrpc: '2.0',
        id: 1,
        method,
        params,
      });
    const send = await rpc('only-a', 'message/send', {
      message: {
        kind: 'message',
        messageId: `iso-${marker}`,
        role: 'user',
        parts: [{ kind: 'text', text: 'x' }],
      },
    });
    expect(send.status).toBe(404);
    expect(send.text).not.toContain(marker);
    for (const method of ['tasks/get', 'tasks/cancel', 'tasks/resubscribe']) {
      const answer = await rpc('sample-agent', method, { id: fixtures['run_id'] });
      expect(answer.text).not.toContain(marker);
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: -32001 } });
    }
  });

  for (const operation of ordered.filter((op) => op.method !== 'PUT')) attackById(operation);

  for (const operation of created) {
    it(`${operation.method} ${operation.path}: B's creation of A's id is B's own`, async () => {
      const answer = await call(
        `${baseUrl(operation)}${operation.path}`,
        operation.method,
        tokenB,
        creations[keyOf(operation)]!.body(),
      );
      // Created in B's tenant; a conflict would tell B that A has one of that id.
      expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 201 });
      expect(answer.text).not.toContain(marker);
    });
  }

  for (const operation of ordered.filter((op) => op.method === 'PUT')) attackById(operation);

  it("A's resources are intact after every attack of B", async () => {
    const orchestrator = node.node.orchestratorUrl;
    expect((await call(`${orchestrator}/v1/runs/${fixtures['run_id']}`, 'GET', tokenA)).text).toContain(
      '"completed"',
    );
    expect((await call(`${orchestrator}/v1/agents/only-a`, 'GET', tokenA)).text).toContain(marker);
    expect((await call(`${orchestrator}/v1/tools/a-tool`, 'GET', tokenA)).text).toContain(marker);
    expect((await call(`${orchestrator}/v1/memory/a-space/a-key`, 'GET', tokenA)).text).toContain(marker);
  });
});
