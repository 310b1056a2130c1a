import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopes } from '../../functions/shared/auth/auth-context.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let acme: string;
let globex: string;

const memoryScopes = [scopes.memoryRead, scopes.memoryWrite];

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string } = {},
) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      'content-type': 'application/json',
    },
    body: options.raw ?? (options.body === undefined ? null : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** A fresh namespace per test, so tests do not see each other's entries. */
const namespace = () => `ns-${crypto.randomUUID().slice(0, 8)}`;
const entryPath = (ns: string, key: string) => `/v1/memory/${ns}/${encodeURIComponent(key)}`;

beforeAll(async () => {
  api = await startOrchestratorApi();
  acme = await api.auth.token('acme', { scopes: memoryScopes });
  globex = await api.auth.token('globex', { scopes: memoryScopes });
});

afterAll(async () => {
  await api.close();
});

describe('PUT, GET and DELETE /v1/memory/{namespace}/{key}', () => {
  it('stores a value, returns it, replaces it, and deletes it with 204', async () => {
    const ns = namespace();
    const put = await call('PUT', entryPath(ns, 'greeting'), { token: acme, body: { value: 'hello' } });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({
      object: 'memory_entry',
      namespace: ns,
      key: 'greeting',
      value: 'hello',
      updated_at: expect.any(String),
    });
    await call('PUT', entryPath(ns, 'greeting'), { token: acme, body: { value: 'hello again' } });
    const got = await call('GET', entryPath(ns, 'greeting'), { token: acme });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ key: 'greeting', value: 'hello again' });
    const deleted = await call('DELETE', entryPath(ns, 'greeting'), { token: acme });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect((await call('GET', entryPath(ns, 'greeting'), { token: acme })).status).toBe(404);
    expect((await call('DELETE', entryPath(ns, 'greeting'), { token: acme })).json).toMatchObject({
      error: { code: 'not_found' },
    });
  });

  it('takes any percent-encoded key, with slashes encoded or not', async () => {
    const ns = namespace();
    const key = 'users/42: préférences ✓ ?&#%';
    expect((await call('PUT', entryPath(ns, key), { token: acme, body: { value: 'v' } })).json).toMatchObject(
      {
        key,
      },
    );
    expect((await call('GET', entryPath(ns, key), { token: acme })).json).toMatchObject({ key, value: 'v' });
    await call('PUT', `/v1/memory/${ns}/a/b/c`, { token: acme, body: { value: 'slashes' } });
    expect((await call('GET', entryPath(ns, 'a/b/c'), { token: acme })).json).toMatchObject({
      key: 'a/b/c',
      value: 'slashes',
    });
    // A key named like the search verb is just a key.
    await call('PUT', entryPath(ns, 'search'), { token: acme, body: { value: 'plain key' } });
    expect((await call('GET', entryPath(ns, 'search'), { token: acme })).json).toMatchObject({
      value: 'plain key',
    });
  });

  it('answers 400 for an invalid namespace, key or value, and stores nothing', async () => {
    const ns = namespace();
    const bad = [
      call('PUT', entryPath('bad!ns', 'k'), { token: acme, body: { value: 'v' } }),
      call('PUT', entryPath('n'.repeat(65), 'k'), { token: acme, body: { value: 'v' } }),
      call('PUT', entryPath(ns, 'k'.repeat(257)), { token: acme, body: { value: 'v' } }),
      call('PUT', entryPath(ns, 'k'), { token: acme, body: { value: 'x'.repeat(64 * 1024 + 1) } }),
      call('PUT', entryPath(ns, 'k'), { token: acme, body: { value: 42 } }),
      call('PUT', entryPath(ns, 'k'), { token: acme, body: { value: 'v', extra: true } }),
      call('PUT', entryPath(ns, 'k'), { token: acme, raw: '{"value":' }),
      call('GET', `/v1/memory/${ns}/%E0%A4%A`, { token: acme }),
      call('GET', entryPath('a b', 'k'), { token: acme }),
    ];
    for (const answer of await Promise.all(bad)) {
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
    const page = await call('GET', `/v1/memory/${ns}`, { token: acme });
    expect(page.json).toEqual({ object: 'list', data: [], next_cursor: null });
    // The largest key and value are accepted.
    const largest = await call('PUT', entryPath(ns, '🔑'.repeat(256)), {
      token: acme,
      body: { value: 'é'.repeat(32 * 1024) },
    });
    expect(largest.status).toBe(200);
  });
});

describe('GET /v1/memory/{namespace}', () => {
  it('lists every entry once across pages of `limit`, then a null cursor', async () => {
    const ns = namespace();
    const keys = Array.from({ length: 5 }, (_, i) => `key-${i}`);
    for (const key of keys) await call('PUT', entryPath(ns, key), { token: acme, body: { value: key } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const page = await call('GET', `/v1/memory/${ns}${query}`, { token: acme });
      expect(page.status).toBe(200);
      expect(page.json).toMatchObject({ object: 'list' });
      const data = page.json!['data'] as { object: string; key: string }[];
      expect(data.length).toBeLessThanOrEqual(2);
      expect(data.every((entry) => entry.object === 'memory_entry')).toBe(true);
      seen.push(...data.map((entry) => entry.key));
      cursor = page.json!['next_cursor'] as string | null;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(keys);
  });

  it('answers 400 for a malformed cursor or a limit out of range', async () => {
    const ns = namespace();
    for (const query of ['?cursor=garbage', '?limit=0', '?limit=101', '?limit=x', '?unknown=1']) {
      const answer = await call('GET', `/v1/memory/${ns}${query}`, { token: acme });
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ error: { code: 'invalid_request' } });
    }
  });
});

describe('GET /v1/memory/{namespace}:search', () => {
  it('returns hits ranked by relevance with their scores, in one page', async () => {
    const ns = namespace();
    const entries = {
      'weather/monday': 'The weather was sunny',
      'weather/tuesday': 'The weather was rainy',
      'animals/zebra': 'A zebra crossed the road',
      unrelated: 'Nothing to see here',
    };
    for (const [key, value] of Object.entries(entries)) {
      await call('PUT', entryPath(ns, key), { token: acme, body: { value } });
    }
    const answer = await call('GET', `/v1/memory/${ns}:search?q=${encodeURIComponent('Weather zebra')}`, {
      token: acme,
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ object: 'list', next_cursor: null });
    const data = answer.json!['data'] as { entry: { key: string; object: string }; score: number }[];
    expect(data.map((hit) => hit.entry.key)).toEqual(['animals/zebra', 'weather/monday', 'weather/tuesday']);
    expect(data[0]!.entry.object).toBe('memory_entry');
    expect(data[0]!.score).toBeGreaterThan(data[1]!.score);
    const limited = await call('GET', `/v1/memory/${ns}:search?q=weather&limit=1`, { token: acme });
    expect((limited.json!['data'] as unknown[]).length).toBe(1);
    const none = await call('GET', `/v1/memory/${ns}:search?q=absent`, { token: acme });
    expect(none.json).toEqual({ object: 'list', data: [], next_cursor: null });
  });

  it('answers 400 without a query or with one out of bounds', async () => {
    const ns = namespace();
    for (const query of ['', '?q=', `?q=${'x'.repeat(1025)}`, '?q=a&limit=0']) {
      expect((await call('GET', `/v1/memory/${ns}:search${query}`, { token: acme })).status).toBe(400);
    }
  });
});

describe('tenants and scopes', () => {
  it('never shows, lists, ranks or deletes another tenant’s entries', async () => {
    const ns = namespace();
    await call('PUT', entryPath(ns, 'secret'), { token: acme, body: { value: 'acme launch plan' } });
    const read = await call('GET', entryPath(ns, 'secret'), { token: globex });
    expect(read.status).toBe(404);
    expect(read.json).toMatchObject({ error: { code: 'not_found' } });
    expect((await call('GET', `/v1/memory/${ns}`, { token: globex })).json).toEqual({
      object: 'list',
      data: [],
      next_cursor: null,
    });
    expect(
      (await call('GET', `/v1/memory/${ns}:search?q=acme+launch+plan+secret`, { token: globex })).json,
    ).toEqual({
      object: 'list',
      data: [],
      next_cursor: null,
    });
    expect((await call('DELETE', entryPath(ns, 'secret'), { token: globex })).status).toBe(404);
    await call('PUT', entryPath(ns, 'secret'), { token: globex, body: { value: 'globex own' } });
    expect((await call('GET', entryPath(ns, 'secret'), { token: acme })).json).toMatchObject({
      value: 'acme launch plan',
    });
    expect((await call('GET', entryPath(ns, 'secret'), { token: globex })).json).toMatchObject({
      value: 'globex own',
    });
  });

  it('answers 403 without the memory scope an operation needs, and 401 without a token', async () => {
    const ns = namespace();
    const runsOnly = await api.auth.token('acme', { scopes: [scopes.runsRead, scopes.runsWrite] });
    const readOnly = await api.auth.token('acme', { scopes: [scopes.memoryRead] });
    const writeOnly = await api.auth.token('acme', { scopes: [scopes.memoryWrite] });
    const forbidden = [
      call('PUT', entryPath(ns, 'k'), { token: runsOnly, body: { value: 'v' } }),
      call('PUT', entryPath(ns, 'k'), { token: readOnly, body: { value: 'v' } }),
      call('DELETE', entryPath(ns, 'k'), { token: readOnly }),
      call('GET', entryPath(ns, 'k'), { token: writeOnly }),
      call('GET', `/v1/memory/${ns}`, { token: runsOnly }),
      call('GET', `/v1/memory/${ns}:search?q=v`, { token: writeOnly }),
    ];
    for (const answer of await Promise.all(forbidden)) {
      expect(answer.status).toBe(403);
      expect(answer.json).toMatchObject({ error: { code: 'forbidden' } });
    }
    expect((await call('GET', `/v1/memory/${ns}`)).status).toBe(401);
    expect((await call('GET', `/v1/memory/${ns}`, { token: readOnly })).status).toBe(200);
  });
});
