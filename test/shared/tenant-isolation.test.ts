import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopes } from '../../functions/shared/auth/auth-context.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { scriptedInput } from '../support/run-events.ts';

/**
 * The isolation suite (HLD §5.1, §5.2), generated from the OpenAPI documents: every served,
 * authenticated operation is either attacked here — tenant B's token, holding every scope, aimed at
 * tenant A's resources — or exempted below with a reason. A new operation fails the suite until it is
 * classified, so nobody has to remember to add it.
 */

type Operation = {
  document: 'orchestrator' | 'model-policy';
  method: string;
  path: string;
  operationId: string;
  scope: string;
  pathParams: string[];
};

type OpenApiOperation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { name?: string; in?: string }[];
  'x-implemented'?: boolean;
};

function operationsOf(document: Operation['document']): Operation[] {
  const parsed = JSON.parse(readFileSync(`schemas/${document}.openapi.json`, 'utf8')) as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(parsed.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      if (operation['x-implemented'] === false) continue;
      const scope = operation.security?.[0]?.['bearerAuth']?.[0];
      if (scope === undefined) continue;
      operations.push({
        document,
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        scope,
        pathParams: [...path.matchAll(/\{(\w+)\+?\}/g)].map((m) => m[1]!),
      });
    }
  }
  return operations;
}

/** Operations that hold no tenant data, or whose isolation another test proves, each with its reason. */
const exempt: Record<string, string> = {
  listModels: 'the model catalog is the node’s, the same for every tenant entitled to it',
  getModel: 'the model catalog is the node’s, the same for every tenant entitled to it',
  checkPolicy: 'a stateless check of the caller’s own request; it reads no stored tenant data',
  createChatCompletion: 'creates in the caller’s tenant only; usage isolation is attacked through getUsage',
  invokeModel: 'creates in the caller’s tenant only; usage isolation is attacked through getUsage',
  createRun: 'creates in the caller’s tenant; B’s run on A’s agent id is attacked below (agent not found)',
  createAgent: 'creates in the caller’s tenant; A’s agent is checked unchanged after B creates the same id',
  createTool: 'creates in the caller’s tenant; A’s tool is checked unchanged after B creates the same id',
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
  return operation.document === 'orchestrator' ? node.node.orchestratorUrl : node.node.modelPolicyUrl;
}

async function call(
  url: string,
  method: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
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
  // Any request id of A: B's abort of it must be 404 like an unknown one.
  fixtures['request_id'] = `${fixtures['run_id']}/step-1`;
}, 120_000);

afterAll(async () => {
  await node?.stop();
});

const operations = [...operationsOf('orchestrator'), ...operationsOf('model-policy')];

const isAdmin = (op: Operation) => op.path.startsWith('/v1/admin/');
const isListing = (op: Operation) => /^(list|search)/.test(op.operationId);

describe('tenant isolation, generated from the OpenAPI documents', () => {
  it('classifies every authenticated operation as attacked or exempted with a reason', () => {
    const unclassified = operations.filter(
      (op) =>
        !isAdmin(op) &&
        op.pathParams.length === 0 &&
        op.method !== 'GET' &&
        exempt[op.operationId] === undefined,
    );
    expect(unclassified.map((op) => `${op.method} ${op.path}`)).toEqual([]);
    const stale = Object.keys(exempt).filter((id) => !operations.some((op) => op.operationId === id));
    expect(stale).toEqual([]);
  });

  const attacked = operations.filter((op) => exempt[op.operationId] === undefined);
  // Upserts last: B's PUT creates B's own resource of A's id, which later reads would then find.
  const byId = attacked.filter((op) => !isAdmin(op) && op.pathParams.length > 0);
  const ordered = [...byId.filter((op) => op.method !== 'PUT'), ...byId.filter((op) => op.method === 'PUT')];

  for (const operation of attacked.filter(isAdmin)) {
    it(`${operation.method} ${operation.path}: refused to a tenant that is not the platform's`, async () => {
      const path = operation.pathParams.length > 0 ? pathFor(operation) : operation.path;
      const answer = await call(`${baseUrl(operation)}${path}`, operation.method, tokenB, bodyFor(operation));
      expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 403 });
      expect(answer.text).not.toContain(marker);
    });
  }

  for (const operation of attacked.filter(
    (op) => !isAdmin(op) && op.pathParams.length === 0 && op.method === 'GET',
  )) {
    it(`${operation.method} ${operation.path}: B's listing never shows A's items`, async () => {
      const query = operation.operationId === 'getUsage' ? '?window=month' : '';
      const answer = await call(`${baseUrl(operation)}${operation.path}${query}`, 'GET', tokenB);
      expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 200 });
      expect(answer.text).not.toContain(marker);
      expect(answer.text).not.toContain(fixtures['run_id']!);
      expect(answer.text).not.toContain('only-a');
      expect(answer.text).not.toContain('a-tool');
      expect(answer.text).not.toContain('a-principal');
      expect(answer.text).not.toContain(fixtures['token_id']!);
    });
  }

  for (const operation of ordered) {
    it(`${operation.method} ${operation.path}: B's token on A's resource gets no data of A`, async () => {
      const query = operation.operationId === 'searchMemory' ? `?q=${marker}` : '';
      const answer = await call(
        `${baseUrl(operation)}${pathFor(operation)}${query}`,
        operation.method,
        tokenB,
        bodyFor(operation),
        operation.path.endsWith('/events') ? { accept: 'text/event-stream' } : {},
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
  it("B's usage by A's run id is not found", async () => {
    const answer = await call(
      `${node.node.modelPolicyUrl}/v1/usage?run_id=${fixtures['run_id']}`,
      'GET',
      tokenB,
    );
    expect(answer.text).not.toContain(marker);
    expect([200, 404]).toContain(answer.status);
    // B's own, empty usage at most: none of A's tokens.
    expect(answer.text).not.toMatch(/"prompt_tokens":[1-9]/);
  });

  it("B cannot start a run of A's agent", async () => {
    const answer = await call(`${node.node.orchestratorUrl}/v1/runs`, 'POST', tokenB, {
      agent_id: 'only-a',
      input: { messages: [{ role: 'user', content: 'x' }] },
    });
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(marker);
  });

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
