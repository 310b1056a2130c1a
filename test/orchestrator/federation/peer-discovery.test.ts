import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerCapabilitiesSchema } from '../../../functions/orchestrator/federation/schemas/peer-capabilities.ts';
import { PeerInfoSchema } from '../../../functions/orchestrator/federation/schemas/peer-info.ts';
import { startOrchestratorApi } from '../../support/orchestrator-api-only.ts';

/**
 * The Federation API's discovery routes over real HTTP, through the local API Gateway front, on a
 * fresh emulator node (HLD §7.1, §7.2): what an operator or a forwarding node reads before it trusts
 * or forwards to a peer.
 */

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;

const models = {
  tiers: [{ name: 'fast', description: 'small and quick' }],
  backends: [{ kind: 'bedrock', streaming: true, tools: true }],
};

beforeAll(async () => {
  api = await startOrchestratorApi({
    AGENTOS_NODE_ID: 'east-1',
    AGENTOS_FEDERATION_MODELS: JSON.stringify(models),
    AGENTOS_NODE_MAX_CONCURRENT_RUNS: '42',
  });
});

afterAll(async () => {
  await api.close();
});

async function get(path: string, token?: string) {
  const response = await fetch(`${api.url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
}

describe('GET /v1/peer/info', { timeout: 60_000 }, () => {
  it('returns the node’s id, release, versions and absolute endpoints without a token', async () => {
    const answer = await get('/v1/peer/info');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('public, max-age=300');
    const info = PeerInfoSchema.parse(answer.body);
    expect(info).toEqual({
      object: 'peer.info',
      node_id: 'east-1',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      protocol_versions: ['agentos-federation/1.0'],
      api_versions: ['v1'],
      endpoints: {
        orchestrator: api.url,
        federation: api.url,
        capabilities: `${api.url}/v1/peer/capabilities`,
      },
      jwks_url: `${api.url}/.well-known/jwks.json`,
    });
  });

  it('returns a JWKS URL that serves the node’s public keys', async () => {
    const info = PeerInfoSchema.parse((await get('/v1/peer/info')).body);
    const jwks = await fetch(info.jwks_url);
    expect(jwks.status).toBe(200);
    const body = (await jwks.json()) as { keys: { kid: string; d?: unknown }[] };
    expect(body.keys.length).toBeGreaterThan(0);
    expect(body.keys.every((key) => key.d === undefined)).toBe(true);
  });

  it('returns the same answer to a caller holding a tenant’s token', async () => {
    const token = await api.auth.token('acme');
    const answer = await get('/v1/peer/info', token);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual((await get('/v1/peer/info')).body);
  });
});

describe('GET /v1/peer/capabilities', { timeout: 60_000 }, () => {
  it('returns the features, limits, models and token requirements of the node without a token', async () => {
    const answer = await get('/v1/peer/capabilities');
    expect(answer.status).toBe(200);
    const capabilities = PeerCapabilitiesSchema.parse(answer.body);
    expect(capabilities).toMatchObject({
      object: 'peer.capabilities',
      node_id: 'east-1',
      protocol_versions: ['agentos-federation/1.0'],
      interfaces: [
        { url: api.url, protocol_binding: 'HTTP+JSON', protocol_version: 'agentos-federation/1.0' },
      ],
      // Ingest is not served yet: a forwarder must refuse rather than try.
      features: { run_forwarding: true, event_streaming: true, event_ingest: true },
      limits: {
        max_request_bytes: 128 * 1024,
        max_input_messages: 100,
        max_concurrent_forwarded_runs: 42,
        max_ingest_batch: 500,
      },
      models,
      security: { token_type: 'bearer-jwt', audience: 'east-1', mtls: 'recommended' },
    });
  });

  it('names no agent of any tenant', async () => {
    await api.seed('acme');
    const capabilities = PeerCapabilitiesSchema.parse((await get('/v1/peer/capabilities')).body);
    expect(capabilities.skills).toEqual([]);
  });
});
