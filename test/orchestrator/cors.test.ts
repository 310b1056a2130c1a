import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let token: string;

const page = 'http://127.0.0.1:8123';
const body = { agent_id: 'sample-agent', input: { messages: [{ role: 'user', content: 'hello' }] } };

function preflight(path: string, origin: string, method = 'POST') {
  return fetch(`${api.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization, content-type, idempotency-key',
    },
  });
}

beforeAll(async () => {
  api = await startOrchestratorApi({
    AGENTOS_CORS_ALLOWED_ORIGINS: `https://app.example.com, ${page}`,
    AGENTOS_CORS_ALLOW_CREDENTIALS: 'true',
  });
  await api.seed('acme');
  token = await api.auth.token('acme');
});

afterAll(async () => {
  await api.close();
});

describe('CORS preflight', () => {
  it('returns 204 with the path’s methods and the allowed headers to an allowed origin', async () => {
    const response = await preflight('/v1/runs', page);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(page);
    expect(response.headers.get('access-control-allow-methods')?.split(', ').sort()).toEqual(['GET', 'POST']);
    const allowed = response.headers.get('access-control-allow-headers')?.toLowerCase().split(', ');
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'last-event-id', 'idempotency-key', 'content-type']),
    );
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('answers the preflight of the event stream, served by its own function', async () => {
    const response = await preflight('/v1/runs/run_0123456789abcdef/events', page, 'GET');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(page);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET');
  });

  it('throws a 403 without CORS headers at an origin that is not listed', async () => {
    const response = await preflight('/v1/runs', 'https://evil.example.com');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await response.json()).toMatchObject({ error: { code: 'forbidden' } });
  });
});

describe('CORS on actual requests', () => {
  it('returns the allow-origin and exposed headers on a created run to an allowed origin', async () => {
    const response = await fetch(`${api.url}/v1/runs`, {
      method: 'POST',
      headers: { origin: page, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('access-control-allow-origin')).toBe(page);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    const exposed = response.headers.get('access-control-expose-headers')?.toLowerCase().split(', ');
    expect(exposed).toEqual(
      expect.arrayContaining(['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'location', 'etag']),
    );
  });

  it('returns the allow-origin header on an error, so the page can read why', async () => {
    const response = await fetch(`${api.url}/v1/runs`, { headers: { origin: page } });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(page);
  });

  it('returns no allow-origin header to an origin that is not listed', async () => {
    const response = await fetch(`${api.url}/v1/runs`, {
      headers: { origin: 'https://evil.example.com', authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });
});
