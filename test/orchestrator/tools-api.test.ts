import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTenantScopes, scopes } from '../../functions/shared/auth/auth-context.ts';
import { builtinToolIds } from '../../functions/orchestrator/schemas/tool.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let acme: string;
let globex: string;

type Answer = { status: number; headers: Headers; json: Record<string, unknown> | undefined };

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      'content-type': 'application/json',
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

const weather = (changes: Record<string, unknown> = {}) => ({
  tool_id: 'weather',
  description: 'Current weather of a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  http: {
    method: 'GET',
    url: 'https://weather.example.com/v1/{city}',
    credentials: { secret: 'weather-key', header: 'X-Api-Key', prefix: '' },
  },
  ...changes,
});

/** A tool's body for PUT: the create body without its id. */
function specOf(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = weather(changes);
  delete body['tool_id'];
  return body;
}

function fields(answer: Answer): string[] {
  const error = answer.json?.['error'] as { details?: { fields?: { field: string }[] } } | undefined;
  return (error?.details?.fields ?? []).map((f) => f.field);
}

function ids(answer: Answer): string[] {
  return (answer.json?.['data'] as { tool_id: string }[]).map((t) => t.tool_id);
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  acme = await api.auth.token('acme');
  globex = await api.auth.token('globex');
});

afterAll(async () => {
  await api.close();
});

describe('the tools API', () => {
  it('lists the built-in tools first, each with a JSON Schema of its arguments', async () => {
    const listed = await call('GET', '/v1/tools?limit=100', { token: await api.auth.token('fresh') });
    expect(listed.status).toBe(200);
    expect(listed.json).toMatchObject({ object: 'list', next_cursor: null });
    expect(ids(listed)).toEqual([...builtinToolIds]);
    const wait = (listed.json?.['data'] as Record<string, unknown>[]).find((t) => t['tool_id'] === 'wait');
    expect(wait).toMatchObject({
      object: 'tool',
      kind: 'builtin',
      parameters: {
        type: 'object',
        properties: { seconds: { minimum: 1, maximum: 86_400 } },
        required: ['seconds'],
      },
    });
    expect((await call('GET', '/v1/tools/http_fetch', { token: acme })).json).toMatchObject({
      kind: 'builtin',
      parameters: { required: ['url'] },
    });
  });

  it('declares an HTTP tool (201, Location), reads it, replaces it as version 2, and deletes it (204)', async () => {
    const created = await call('POST', '/v1/tools', { token: acme, body: weather() });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/tools/weather');
    expect(created.json).toMatchObject({
      object: 'tool',
      kind: 'http',
      tool_id: 'weather',
      version: 1,
      timeout_ms: 10_000,
      max_response_bytes: 65_536,
    });
    expect((await call('GET', '/v1/tools/weather', { token: acme })).json).toEqual(created.json);
    const listed = await call('GET', '/v1/tools?limit=100', { token: acme });
    expect(ids(listed).slice(0, builtinToolIds.length)).toEqual([...builtinToolIds]);
    expect(ids(listed)).toContain('weather');
    const spec = specOf({ description: 'Weather, v2.' });
    const replaced = await call('PUT', '/v1/tools/weather', { token: acme, body: spec });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({ version: 2, description: 'Weather, v2.' });
    expect((await call('POST', '/v1/tools', { token: acme, body: weather() })).status).toBe(409);
    expect((await call('DELETE', '/v1/tools/weather', { token: acme })).status).toBe(204);
    expect((await call('GET', '/v1/tools/weather', { token: acme })).status).toBe(404);
    expect((await call('DELETE', '/v1/tools/weather', { token: acme })).status).toBe(404);
  });

  it('pages through built-ins and then the tenant’s tools with limit and cursor', async () => {
    const token = await api.auth.token('pager');
    for (const id of ['t_c', 't_a', 't_b']) {
      expect((await call('POST', '/v1/tools', { token, body: weather({ tool_id: id }) })).status).toBe(201);
    }
    const seen: string[] = [];
    let path = '/v1/tools?limit=3';
    for (;;) {
      const page = await call('GET', path, { token });
      expect(page.status).toBe(200);
      expect(ids(page).length).toBeLessThanOrEqual(3);
      seen.push(...ids(page));
      const next = page.json?.['next_cursor'] as string | null;
      if (next === null) break;
      path = `/v1/tools?limit=3&cursor=${encodeURIComponent(next)}`;
    }
    expect(seen).toEqual([...builtinToolIds, 't_a', 't_b', 't_c']);
  });

  it('answers 409 for changing or deleting a built-in tool', async () => {
    const spec = specOf();
    const put = await call('PUT', '/v1/tools/echo', { token: acme, body: spec });
    expect(put.status).toBe(409);
    expect(JSON.stringify(put.json)).toContain('built-in');
    expect((await call('DELETE', '/v1/tools/memory_put', { token: acme })).status).toBe(409);
  });

  it.each([
    ['a reserved id', weather({ tool_id: 'http_fetch' }), 'tool_id'],
    ['an old built-in name', weather({ tool_id: 'remember' }), 'tool_id'],
    ['parameters of a non-object', weather({ parameters: { type: 'array' } }), 'parameters.type'],
    [
      'parameters that do not compile',
      weather({ parameters: { type: 'object', required: 'city' } }),
      'parameters',
    ],
    [
      'a URL placeholder that is not a parameter',
      weather({ http: { method: 'GET', url: 'https://x.example/{town}' } }),
      'http.url',
    ],
    ['an ftp URL', weather({ http: { method: 'GET', url: 'ftp://x.example/{city}' } }), 'http.url'],
    [
      'a Host header',
      weather({ http: { method: 'GET', url: 'https://x.example/', headers: { Host: 'evil' } } }),
      'http.headers.Host',
    ],
    ['an invalid tool id', weather({ tool_id: 'has spaces' }), 'tool_id'],
    ['an unknown field', weather({ implementation: 'builtin:echo' }), 'implementation'],
  ])('answers 400 naming the field for %s', async (_what, body, field) => {
    const answer = await call('POST', '/v1/tools', { token: acme, body });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { code: 'invalid_request' } });
    expect(fields(answer)).toContain(field);
  });

  it('never shows, changes or deletes another tenant’s tool: 404 for every route', async () => {
    expect(
      (await call('POST', '/v1/tools', { token: acme, body: weather({ tool_id: 'private' }) })).status,
    ).toBe(201);
    const spec = specOf();
    expect((await call('GET', '/v1/tools/private', { token: globex })).status).toBe(404);
    expect((await call('PUT', '/v1/tools/private', { token: globex, body: spec })).status).toBe(404);
    expect((await call('DELETE', '/v1/tools/private', { token: globex })).status).toBe(404);
    expect(ids(await call('GET', '/v1/tools?limit=100', { token: globex }))).not.toContain('private');
    expect((await call('GET', '/v1/tools/private', { token: acme })).status).toBe(200);
  });

  it('requires tools:read to read and tools:write to change (403 without)', async () => {
    const readOnly = await api.auth.token('acme', { scopes: [scopes.toolsRead] });
    const noTools = await api.auth.token('acme', {
      scopes: defaultTenantScopes.filter((s) => !s.startsWith('tools:')),
    });
    expect((await call('GET', '/v1/tools', { token: readOnly })).status).toBe(200);
    expect((await call('GET', '/v1/tools', { token: noTools })).status).toBe(403);
    expect((await call('GET', '/v1/tools/echo', { token: noTools })).status).toBe(403);
    expect(
      (await call('POST', '/v1/tools', { token: readOnly, body: weather({ tool_id: 'x' }) })).status,
    ).toBe(403);
    expect((await call('DELETE', '/v1/tools/private', { token: readOnly })).status).toBe(403);
  });
});
