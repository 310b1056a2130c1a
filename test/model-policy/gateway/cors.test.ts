import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsEnv } from '../../../functions/shared/http/cors.ts';
import { startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

const origin = 'https://app.example.com';
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ env: corsEnv.render({ AGENTOS_CORS_ALLOWED_ORIGINS: origin }) });
});

afterAll(async () => {
  await gateway.close();
});

describe('CORS on the Model Policy, through the HTTP core both services share', () => {
  it('returns 204 with the route’s methods to a preflight from a listed origin', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(response.headers.get('access-control-allow-methods')).toBe('POST');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('throws a 403 at a preflight from another origin', async () => {
    const response = await fetch(`${gateway.url}/v1/models`, {
      method: 'OPTIONS',
      headers: { origin: 'https://other.example.com', 'access-control-request-method': 'GET' },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('returns the allow-origin header on an actual request from a listed origin', async () => {
    const token = await gateway.token('acme');
    const response = await gateway.call('GET', '/v1/models', token, undefined, { origin });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(response.headers.get('access-control-expose-headers')).toContain('Retry-After');
  });
});
