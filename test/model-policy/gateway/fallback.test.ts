import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import type { FakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeBehaviour } from '../../fakes/fake-behaviour.ts';
import { pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let openai: FakeOpenAiServer;
let bedrock: FakeBedrockServer;
let gateway: Gateway;
let token: string;

beforeAll(async () => {
  openai = await startFakeOpenAiServer();
  bedrock = await startFakeBedrockServer();
  gateway = await startGateway({
    catalog: pricedCatalog(
      {
        backends: {
          primary: { kind: 'openai', base_url: openai.url, timeout_ms: 500 },
          bedrock: {
            kind: 'bedrock',
            region: 'us-east-1',
            endpoint: bedrock.url,
            credentials: 'env:BEDROCK_CREDENTIALS',
            timeout_ms: 5000,
          },
        },
        models: {
          'openai/gpt-4o-mini': {
            backend: 'primary',
            model: 'gpt-4o-mini',
            fallbacks: ['bedrock/claude-haiku'],
          },
          'bedrock/claude-haiku': { backend: 'bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0' },
          'bedrock/claude-primary': {
            backend: 'bedrock',
            model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
            fallbacks: ['openai/gpt-4o-mini'],
          },
        },
        tiers: { fast: ['openai/gpt-4o-mini', 'bedrock/claude-haiku'] },
      },
      { input_usd_per_mtok: 0.25, output_usd_per_mtok: 1.25 },
    ),
    env: {
      BEDROCK_CREDENTIALS: JSON.stringify({ access_key_id: 'AKIDFAKE', secret_access_key: 'fake-secret' }),
    },
  });
  token = await gateway.token('routes');
});

beforeEach(() => {
  openai.reset();
  bedrock.reset();
});

afterAll(async () => {
  await gateway.close();
  await openai.close();
  await bedrock.close();
});

type Route = { model_ref: string; provider: string; model: string; hops: Record<string, unknown>[] };

const invoke = (modelRef: string) =>
  gateway.call('POST', `/v1/models/${encodeURIComponent(modelRef)}:invoke`, token, {
    request_id: `fb-${Math.random().toString(36).slice(2)}`,
    messages: [{ role: 'user', content: 'route me' }],
    max_tokens: 50,
  });

function streamChat(modelRef: string): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: modelRef,
      stream: true,
      messages: [{ role: 'user', content: 'route me' }],
    }),
  });
}

function sseData(body: string): Record<string, unknown>[] {
  return body
    .split('\n\n')
    .filter((event) => event.startsWith('data: {'))
    .map((event) => JSON.parse(event.slice(6)) as Record<string, unknown>);
}

function streamedText(events: Record<string, unknown>[]): string {
  return events
    .map(
      (event) =>
        (event['choices'] as { delta: { content?: string } }[] | undefined)?.[0]?.delta.content ?? '',
    )
    .join('');
}

describe('fallback', () => {
  it.each<[string, FakeBehaviour, string, number | undefined]>([
    ['a 429', { kind: 'error', status: 429 }, 'rate_limited', 429],
    ['a 500', { kind: 'error', status: 500 }, 'server_error', 500],
    ['a timeout', { kind: 'reply', text: 'too late', delayMs: 5000 }, 'timeout', undefined],
    ['a dropped connection', { kind: 'drop' }, 'connection', undefined],
    [
      'a 404 for a model the backend does not serve',
      { kind: 'error', status: 404 },
      'model_unavailable',
      404,
    ],
  ])('falls back to Bedrock after %s and returns every hop', async (_case, behaviour, reason, status) => {
    openai.enqueue(behaviour);
    const response = await invoke('openai/gpt-4o-mini');
    expect(response.status).toBe(200);
    const route = response.body['route'] as Route;
    expect(route).toMatchObject({
      model_ref: 'openai/gpt-4o-mini',
      provider: 'bedrock',
      model: 'bedrock/claude-haiku',
    });
    expect(route.hops).toMatchObject([
      {
        provider: 'primary',
        model: 'openai/gpt-4o-mini',
        outcome: 'fallback',
        reason,
        ...(status === undefined ? {} : { status }),
      },
      { provider: 'bedrock', model: 'bedrock/claude-haiku', outcome: 'ok' },
    ]);
    expect((response.body['output'] as { message: { content: string } }).message.content).toBe(
      'echo: route me',
    );
    expect(bedrock.requests).toHaveLength(1);
  });

  it('falls back when a JSON answer is cut off', async () => {
    openai.enqueue({ kind: 'cut' });
    const response = await invoke('tier:fast');
    expect(response.status).toBe(200);
    expect((response.body['route'] as Route).hops[0]).toMatchObject({ outcome: 'fallback' });
    expect(bedrock.requests).toHaveLength(1);
  });

  it('never falls back on a request the backend rejects as invalid', async () => {
    openai.enqueue({ kind: 'error', status: 400, message: 'messages are malformed' });
    const response = await invoke('openai/gpt-4o-mini');
    expect(response.status).toBe(400);
    expect(response.body['error']).toMatchObject({
      code: 'invalid_request',
      details: { route: { hops: [{ reason: 'invalid_request', status: 400 }] } },
    });
    expect(bedrock.requests).toHaveLength(0);
  });

  it('never shows the backend’s own error text to the caller', async () => {
    openai.enqueue({
      kind: 'error',
      status: 400,
      message: 'Invalid model arn:aws:bedrock:us-east-1:123456789012:inference-profile/secret-profile',
    });
    const response = await invoke('openai/gpt-4o-mini');
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).not.toContain('123456789012');
    expect(JSON.stringify(response.body)).not.toContain('secret-profile');
  });

  it.each<[string, FakeBehaviour, string]>([
    ['throttled', { kind: 'error', status: 429 }, 'rate_limited'],
    ['a model it does not serve in its region', { kind: 'error', status: 404 }, 'model_unavailable'],
    ['failing', { kind: 'error', status: 500 }, 'server_error'],
  ])('falls back from Bedrock as the primary when it is %s', async (_case, behaviour, reason) => {
    bedrock.enqueue(behaviour);
    const response = await invoke('bedrock/claude-primary');
    expect(response.status).toBe(200);
    expect((response.body['route'] as Route).hops).toMatchObject([
      { provider: 'bedrock', model: 'bedrock/claude-primary', outcome: 'fallback', reason },
      { provider: 'primary', model: 'openai/gpt-4o-mini', outcome: 'ok' },
    ]);
    expect(openai.requests).toHaveLength(1);
  });

  it('falls back from Bedrock as the primary when its ConverseStream is cut before the first chunk', async () => {
    bedrock.enqueue({ kind: 'cut', afterChunks: 0 });
    const response = await streamChat('bedrock/claude-primary');
    expect(response.status).toBe(200);
    expect(streamedText(sseData(await response.text()))).toBe('echo: route me');
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      provider: 'primary',
      hops: [
        { provider: 'bedrock', outcome: 'fallback' },
        { provider: 'primary', outcome: 'ok' },
      ],
    });
  });

  it('answers rate_limited when every backend is rate limited', async () => {
    openai.enqueue({ kind: 'error', status: 429 });
    bedrock.enqueue({ kind: 'error', status: 429 });
    const response = await invoke('tier:fast');
    expect(response.status).toBe(429);
    expect(response.body['error']).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'upstream_rate_limit', retry_after_seconds: 2 },
    });
  });

  it('answers dependency_unavailable with the hops when no backend answers', async () => {
    openai.enqueue({ kind: 'error', status: 503 });
    bedrock.enqueue({ kind: 'error', status: 500 });
    const response = await invoke('tier:fast');
    expect(response.status).toBe(503);
    expect(response.body['error']).toMatchObject({
      code: 'dependency_unavailable',
      details: { route: { hops: [{ reason: 'server_error' }, { reason: 'server_error' }] } },
    });
  });

  it('falls back on a client stream while nothing has been sent, and names the hops in a header', async () => {
    openai.enqueue({ kind: 'error', status: 429 });
    const response = await streamChat('tier:fast');
    expect(response.status).toBe(200);
    const route = JSON.parse(response.headers.get('x-agentos-route') ?? '{}') as Route;
    expect(route.hops).toMatchObject([
      { model: 'openai/gpt-4o-mini', outcome: 'fallback', reason: 'rate_limited' },
      { model: 'bedrock/claude-haiku', outcome: 'ok' },
    ]);
    const events = sseData(await response.text());
    expect(streamedText(events)).toBe('echo: route me');
    expect(bedrock.requests.map((request) => request.operation)).toEqual(['converse-stream']);
  });

  it('falls back when a stream is cut before its first chunk', async () => {
    openai.enqueue({ kind: 'cut', afterChunks: 0 });
    const response = await streamChat('tier:fast');
    const events = sseData(await response.text());
    expect(streamedText(events)).toBe('echo: route me');
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      provider: 'bedrock',
    });
  });

  it('ends a client stream cut mid-way with an error event, never a second answer, and bills what was streamed', async () => {
    const usageBefore = (await gateway.call('GET', '/v1/usage?window=day', token)).body as {
      totals: { calls: number };
    };
    openai.enqueue({ kind: 'cut', afterChunks: 3 });
    const response = await streamChat('tier:fast');
    expect(response.status).toBe(200);
    const body = await response.text();
    const events = sseData(body);
    expect(streamedText(events).length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({
      error: { code: 'dependency_unavailable', details: { reason: 'stream_cut' } },
    });
    expect(body).not.toContain('[DONE]');
    expect(bedrock.requests).toHaveLength(0);
    const usageAfter = (await gateway.call('GET', '/v1/usage?window=day', token)).body as {
      totals: { calls: number };
      budgets: { reserved_tokens: number }[];
    };
    expect(usageAfter.totals.calls).toBe(usageBefore.totals.calls + 1);
    expect(usageAfter.budgets.every((budget) => budget.reserved_tokens === 0)).toBe(true);
  });
});
