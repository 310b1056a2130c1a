import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let acme: string;
let globex: string;

type Answer = { status: number; headers: Headers; json: Record<string, unknown> | undefined };

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      'content-type': 'application/json',
      ...options.headers,
    },
    body: options.body === undefined ? null : JSON.stringify(options.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

const spec = (changes: Record<string, unknown> = {}) => ({
  name: 'Researcher',
  model_ref: 'local/scripted',
  instructions: 'Find things out.',
  tool_ids: ['echo', 'memory_search'],
  ...changes,
});

function fields(answer: Answer): string[] {
  const error = answer.json?.['error'] as { details?: { fields?: { field: string }[] } } | undefined;
  return (error?.details?.fields ?? []).map((f) => f.field);
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  acme = await api.auth.token('acme');
  globex = await api.auth.token('globex');
});

afterAll(async () => {
  await api.close();
});

describe('the agents API', () => {
  it('creates an agent (201, Location, ETag), reads it back, and lists it', async () => {
    const created = await call('POST', '/v1/agents', {
      token: acme,
      body: { agent_id: 'researcher', ...spec() },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/agents/researcher');
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.json).toMatchObject({
      object: 'agent',
      agent_id: 'researcher',
      version: 1,
      instructions: 'Find things out.',
      max_steps: 10,
      run_mode: 'standard',
      on_tool_error: { action: 'continue' },
    });
    const got = await call('GET', '/v1/agents/researcher', { token: acme });
    expect(got.status).toBe(200);
    expect(got.json).toEqual(created.json);
    const listed = await call('GET', '/v1/agents', { token: acme });
    expect(listed.json).toMatchObject({ object: 'list', next_cursor: null });
    expect((listed.json?.['data'] as { agent_id: string }[]).map((a) => a.agent_id)).toContain('researcher');
  });

  it('chooses an agt_ id when none is given', async () => {
    const created = await call('POST', '/v1/agents', { token: acme, body: spec() });
    expect(created.status).toBe(201);
    expect(created.json?.['agent_id']).toMatch(/^agt_[0-9a-f]{20}$/);
  });

  it('answers 409 when the id is taken', async () => {
    await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'taken', ...spec() } });
    const again = await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'taken', ...spec() } });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ error: { code: 'conflict' } });
  });

  it('makes each update a new version, keeps the old ones, and refuses a stale If-Match or expected_version', async () => {
    await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'versioned', ...spec() } });
    const second = await call('PUT', '/v1/agents/versioned', {
      token: acme,
      body: spec({ instructions: 'Version two.' }),
      headers: { 'if-match': '"1"' },
    });
    expect(second.status).toBe(200);
    expect(second.headers.get('etag')).toBe('"2"');
    expect(second.json).toMatchObject({ version: 2, instructions: 'Version two.' });
    const stale = await call('PUT', '/v1/agents/versioned', {
      token: acme,
      body: spec({ instructions: 'Stale.' }),
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(409);
    const staleBody = await call('PUT', '/v1/agents/versioned', {
      token: acme,
      body: { ...spec({ instructions: 'Stale.' }), expected_version: 1 },
    });
    expect(staleBody.status).toBe(409);
    const third = await call('PUT', '/v1/agents/versioned', {
      token: acme,
      body: { ...spec({ instructions: 'Version three.' }), expected_version: 2 },
    });
    expect(third.json).toMatchObject({ version: 3 });
    const v1 = await call('GET', '/v1/agents/versioned/versions/1', { token: acme });
    expect(v1.json).toMatchObject({ version: 1, instructions: 'Find things out.' });
    expect((await call('GET', '/v1/agents/versioned', { token: acme })).json).toMatchObject({ version: 3 });
    expect((await call('GET', '/v1/agents/versioned/versions/9', { token: acme })).status).toBe(404);
    expect((await call('GET', '/v1/agents/versioned/versions/zero', { token: acme })).status).toBe(404);
  });

  it('deletes an agent (204) but keeps its versions readable; the id can be created again', async () => {
    await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'doomed', ...spec() } });
    const deleted = await call('DELETE', '/v1/agents/doomed', { token: acme });
    expect(deleted.status).toBe(204);
    expect(deleted.json).toBeUndefined();
    expect((await call('GET', '/v1/agents/doomed', { token: acme })).status).toBe(404);
    expect((await call('DELETE', '/v1/agents/doomed', { token: acme })).status).toBe(404);
    expect((await call('PUT', '/v1/agents/doomed', { token: acme, body: spec() })).status).toBe(404);
    expect((await call('GET', '/v1/agents/doomed/versions/1', { token: acme })).json).toMatchObject({
      agent_id: 'doomed',
      version: 1,
    });
    const listed = await call('GET', '/v1/agents?limit=100', { token: acme });
    expect((listed.json?.['data'] as { agent_id: string }[]).map((a) => a.agent_id)).not.toContain('doomed');
    const reborn = await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'doomed', ...spec() } });
    expect(reborn.json).toMatchObject({ version: 2 });
  });

  it('pages through the agents with limit and cursor', async () => {
    const token = await api.auth.token('pager');
    for (const id of ['p-1', 'p-2', 'p-3', 'p-4', 'p-5'])
      await call('POST', '/v1/agents', { token, body: { agent_id: id, ...spec() } });
    const seen: string[] = [];
    let path = '/v1/agents?limit=2';
    for (;;) {
      const page = await call('GET', path, { token });
      expect(page.status).toBe(200);
      const data = page.json?.['data'] as { agent_id: string }[];
      expect(data.length).toBeLessThanOrEqual(2);
      seen.push(...data.map((a) => a.agent_id));
      const next = page.json?.['next_cursor'] as string | null;
      if (next === null) break;
      path = `/v1/agents?limit=2&cursor=${encodeURIComponent(next)}`;
    }
    expect(seen).toEqual(['p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
    expect((await call('GET', '/v1/agents', { token })).json?.['data']).toHaveLength(5);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['cursor=%25%25', 'cursor'],
  ])('answers 400 naming the field for ?%s', async (query, field) => {
    const answer = await call('GET', `/v1/agents?${query}`, { token: acme });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { code: 'invalid_request' } });
    expect(fields(answer)).toContain(field);
  });

  it('refuses a malformed model_ref, unknown tool ids and invalid fields with 400 naming the field', async () => {
    const badModel = await call('POST', '/v1/agents', {
      token: acme,
      body: spec({ model_ref: 'not a model' }),
    });
    expect(badModel.status).toBe(400);
    expect(fields(badModel)).toContain('model_ref');
    const unknownTool = await call('POST', '/v1/agents', {
      token: acme,
      body: spec({ tool_ids: ['echo', 'no_such_tool'] }),
    });
    expect(unknownTool.status).toBe(400);
    expect(fields(unknownTool)).toContain('tool_ids.1');
    expect(JSON.stringify(unknownTool.json)).toContain('no_such_tool');
    const tooMany = await call('POST', '/v1/agents', { token: acme, body: spec({ max_steps: 1001 }) });
    expect(tooMany.status).toBe(400);
    expect(fields(tooMany)).toContain('max_steps');
    const unknownField = await call('POST', '/v1/agents', {
      token: acme,
      body: spec({ system_prompt: 'x' }),
    });
    expect(unknownField.status).toBe(400);
    const tier = await call('POST', '/v1/agents', { token: acme, body: spec({ model_ref: 'tier:fast' }) });
    expect(tier.status).toBe(201);
  });

  it('accepts the tenant’s own HTTP tools in tool_ids, but not another tenant’s', async () => {
    const tool = {
      tool_id: 'lookup',
      description: 'Looks up a thing.',
      parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
      http: { method: 'GET', url: 'https://api.example.com/lookup' },
    };
    expect((await call('POST', '/v1/tools', { token: globex, body: tool })).status).toBe(201);
    const foreign = await call('POST', '/v1/agents', { token: acme, body: spec({ tool_ids: ['lookup'] }) });
    expect(foreign.status).toBe(400);
    expect(fields(foreign)).toContain('tool_ids.0');
    const own = await call('POST', '/v1/agents', {
      token: globex,
      body: spec({ tool_ids: ['lookup', 'echo'] }),
    });
    expect(own.status).toBe(201);
  });

  it('never shows, changes or deletes another tenant’s agent: 404 for every route', async () => {
    await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'secret-agent', ...spec() } });
    expect((await call('GET', '/v1/agents/secret-agent', { token: globex })).status).toBe(404);
    expect((await call('GET', '/v1/agents/secret-agent/versions/1', { token: globex })).status).toBe(404);
    expect((await call('PUT', '/v1/agents/secret-agent', { token: globex, body: spec() })).status).toBe(404);
    expect((await call('DELETE', '/v1/agents/secret-agent', { token: globex })).status).toBe(404);
    const listed = await call('GET', '/v1/agents?limit=100', { token: globex });
    expect((listed.json?.['data'] as { agent_id: string }[]).map((a) => a.agent_id)).not.toContain(
      'secret-agent',
    );
    expect((await call('GET', '/v1/agents/secret-agent', { token: acme })).json).toMatchObject({
      version: 1,
    });
  });

  it('requires agents:read to read and agents:write to change (403 without), and a token (401)', async () => {
    const readOnly = await api.auth.token('acme', { scopes: [scopes.agentsRead] });
    const noAgents = await api.auth.token('acme', {
      scopes: defaultTenantScopes.filter((s) => !s.startsWith('agents:')),
    });
    expect((await call('GET', '/v1/agents', { token: readOnly })).status).toBe(200);
    expect((await call('GET', '/v1/agents', { token: noAgents })).status).toBe(403);
    expect((await call('GET', '/v1/agents/researcher', { token: noAgents })).status).toBe(403);
    const refused = await call('POST', '/v1/agents', { token: readOnly, body: spec() });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { code: 'forbidden' } });
    expect((await call('PUT', '/v1/agents/researcher', { token: readOnly, body: spec() })).status).toBe(403);
    expect((await call('DELETE', '/v1/agents/researcher', { token: readOnly })).status).toBe(403);
    expect((await call('GET', '/v1/agents')).status).toBe(401);
  });

  it('runs a created agent: POST /v1/runs accepts its id', async () => {
    await call('POST', '/v1/agents', { token: acme, body: { agent_id: 'runner', ...spec() } });
    const run = await call('POST', '/v1/runs', {
      token: acme,
      body: { agent_id: 'runner', input: { messages: [{ role: 'user', content: 'hi' }] } },
    });
    expect(run.status).toBe(201);
    expect(run.json).toMatchObject({ agent_id: 'runner', status: 'queued' });
  });
});
