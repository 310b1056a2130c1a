import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultModelCatalog } from '../../../functions/model-policy/composition/default-catalog.ts';
import { estimatePromptTokens } from '../../../functions/model-policy/metering/token-estimate.ts';
import { startFakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import type { FakeBedrockServer } from '../../fakes/fake-bedrock-server.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { testTenantDirectory } from '../../support/test-tenants.ts';
import { policyWithBudgets, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let openai: FakeOpenAiServer;
let bedrock: FakeBedrockServer;
let gateway: Gateway;
let operator: string;

const free = { input_usd_per_mtok: 0, output_usd_per_mtok: 0 };

beforeAll(async () => {
  openai = await startFakeOpenAiServer();
  bedrock = await startFakeBedrockServer();
  gateway = await startGateway({
    catalog: {
      backends: {
        ...defaultModelCatalog.backends,
        primary: { kind: 'openai', base_url: openai.url, timeout_ms: 5000 },
        bedrock: {
          kind: 'bedrock',
          region: 'us-east-1',
          endpoint: bedrock.url,
          credentials: 'env:BEDROCK_CREDENTIALS',
          timeout_ms: 5000,
        },
      },
      models: {
        ...defaultModelCatalog.models,
        'openai/text-embedding-3-small': {
          backend: 'primary',
          model: 'text-embedding-3-small',
          tools: false,
          embedding: { dimensions: 1536, dimensions_allowed: 'any' },
          fallbacks: ['bedrock/titan-embed-v2'],
        },
        'openai/misconfigured': {
          backend: 'primary',
          model: 'text-embedding-3-small',
          tools: false,
          embedding: { dimensions: 8 },
        },
        'bedrock/titan-embed-v2': {
          backend: 'bedrock',
          model: 'amazon.titan-embed-text-v2:0',
          tools: false,
          embedding: { dimensions: 1024, dimensions_allowed: [256, 512] },
        },
      },
      tiers: { ...defaultModelCatalog.tiers, embed: ['local/embed-small'] },
      price_tables: [
        {
          version: 'emb-1',
          effective_from: '2024-01-01T00:00:00Z',
          prices: {
            'local/echo': free,
            'local/scripted': free,
            'local/embed-small': free,
            'openai/text-embedding-3-small': { input_usd_per_mtok: 0.02, output_usd_per_mtok: 0 },
            'bedrock/titan-embed-v2': { input_usd_per_mtok: 0.02, output_usd_per_mtok: 0 },
            'openai/misconfigured': free,
          },
        },
      ],
    },
    env: {
      BEDROCK_CREDENTIALS: JSON.stringify({ access_key_id: 'AKIDFAKE', secret_access_key: 'fake-secret' }),
    },
  });
  operator = await gateway.operatorToken();
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

async function clientFor(tenantId: string): Promise<OpenAI> {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: await gateway.token(tenantId), maxRetries: 0 });
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  a.forEach((value, index) => (dot += value * b[index]!));
  return dot / (Math.hypot(...a) * Math.hypot(...b));
}

function embed(token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return gateway.call('POST', '/v1/embeddings', token, body, headers);
}

type Vectors = { data: { index: number; embedding: number[] }[]; usage: { prompt_tokens: number } };

describe('POST /v1/embeddings with the official openai client', () => {
  it('returns one unit vector of 256 floats per input, similar texts closer than unrelated ones', async () => {
    const client = await clientFor('emb-client');
    const { data: answer, response } = await client.embeddings
      .create({
        model: 'local/embed-small',
        input: ['the cat sat on the mat', 'a cat sat on a mat', 'quarterly revenue grew in Europe'],
        encoding_format: 'float',
      })
      .withResponse();
    expect(answer.object).toBe('list');
    expect(answer.model).toBe('local/embed-small');
    expect(answer.data.map((item) => [item.object, item.index, item.embedding.length])).toEqual([
      ['embedding', 0, 256],
      ['embedding', 1, 256],
      ['embedding', 2, 256],
    ]);
    const [cat, cat2, revenue] = answer.data.map((item) => item.embedding);
    expect(Math.hypot(...cat!)).toBeCloseTo(1, 5);
    expect(cosine(cat!, cat2!)).toBeGreaterThan(cosine(cat!, revenue!) + 0.3);
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens);
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      model_ref: 'local/embed-small',
      provider: 'local',
    });
    // The call took one of the tenant's model calls, as a chat call does.
    expect(response.headers.get('ratelimit-limit')).toMatch(/^\d+$/);
  });

  it('returns base64 vectors the client decodes to the same floats', async () => {
    const client = await clientFor('emb-client');
    const floats = await client.embeddings.create({ model: 'local/embed-small', input: 'hello world' });
    // Without encoding_format the client asks for base64 and decodes it itself.
    const decoded = await client.embeddings.create({
      model: 'local/embed-small',
      input: 'hello world',
      encoding_format: 'base64',
    });
    const packed = decoded.data[0]!.embedding as unknown as string;
    expect(typeof packed).toBe('string');
    const fromBase64 = Array.from(new Float32Array(new Uint8Array(Buffer.from(packed, 'base64')).buffer));
    expect(fromBase64).toEqual(floats.data[0]!.embedding);
  });

  it('lists which models embed, with their vector length, beside the chat models', async () => {
    const client = await clientFor('emb-client');
    const kinds: Record<string, unknown> = {};
    for await (const model of client.models.list())
      kinds[model.id] = (model as { agentos?: unknown }).agentos;
    expect(kinds['local/embed-small']).toEqual({ kind: 'embedding', dimensions: 256 });
    expect(kinds['local/echo']).toEqual({ kind: 'chat', tools: true, vision: true });
    expect(kinds['tier:embed']).toEqual({ kind: 'tier' });
  });

  it('embeds through a tier of embedding models', async () => {
    const client = await clientFor('emb-client');
    const answer = await client.embeddings.create({ model: 'tier:embed', input: 'tiered' });
    expect(answer.model).toBe('local/embed-small');
  });
});

describe('POST /v1/embeddings refusals', () => {
  it('answers 400 naming the model when a chat model is asked to embed', async () => {
    const response = await embed(await gateway.token('emb-kinds'), { model: 'local/echo', input: 'x' });
    expect(response.status).toBe(400);
    expect(response.body['error']).toMatchObject({ code: 'invalid_request' });
    expect(JSON.stringify(response.body)).toContain("'local/echo' is not an embedding model");
  });

  it('answers 400 naming the model when chat is asked of an embedding model', async () => {
    const client = await clientFor('emb-kinds');
    const refused = await client.chat.completions
      .create({ model: 'local/embed-small', messages: [{ role: 'user', content: 'hi' }] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain('is an embedding model');
  });

  it.each([[[1, 2, 3]], [[[1, 2], [3]]]])(
    'answers 400 invalid_request naming input for token arrays %j',
    async (input) => {
      const response = await embed(await gateway.token('emb-kinds'), { model: 'local/embed-small', input });
      expect(response.status).toBe(400);
      expect(response.body['error']).toMatchObject({
        code: 'invalid_request',
        message: 'Token-array input is not supported; send the text to embed',
        details: { fields: [{ field: 'input' }] },
      });
    },
  );

  it('answers 400 naming dimensions for a length the model cannot produce', async () => {
    const response = await embed(await gateway.token('emb-kinds'), {
      model: 'local/embed-small',
      input: 'x',
      dimensions: 64,
    });
    expect(response.status).toBe(400);
    expect(response.body['error']).toMatchObject({
      code: 'invalid_request',
      details: { fields: [{ field: 'dimensions' }] },
    });
  });

  it('answers 400 for too many inputs and 413 for an answer too large to keep', async () => {
    const token = await gateway.token('emb-kinds');
    const tooMany = await embed(token, {
      model: 'local/embed-small',
      input: Array.from({ length: 257 }, (_, index) => `text ${index}`),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body['error']).toMatchObject({ details: { fields: [{ field: 'input' }] } });
    const tooLarge = await embed(token, {
      model: 'openai/text-embedding-3-small',
      input: Array.from({ length: 100 }, (_, index) => `text ${index}`),
    });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body['error']).toMatchObject({
      code: 'invalid_request',
      details: { fields: [{ field: 'input' }] },
    });
    expect(openai.requests).toHaveLength(0);
  });
});

describe('POST /v1/embeddings metering', () => {
  it('returns and replays the largest answer one call may hold', async () => {
    const token = await gateway.token('emb-large');
    const body = {
      model: 'local/embed-small',
      input: Array.from({ length: 256 }, (_, index) => `text number ${index} `.repeat(20)),
    };
    const first = await embed(token, body, { 'x-request-id': 'emb-large-1' });
    expect(first.status).toBe(200);
    expect((first.body as Vectors).data).toHaveLength(256);
    const again = await embed(token, body, { 'x-request-id': 'emb-large-1' });
    expect(again.headers.get('x-agentos-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('replays an X-Request-Id with the first answer, in either encoding, billed once', async () => {
    const token = await gateway.token('emb-replay');
    const body = { model: 'openai/text-embedding-3-small', input: ['one', 'two'], dimensions: 8 };
    const first = await embed(token, body, { 'x-request-id': 'emb-r1' });
    const again = await embed(token, body, { 'x-request-id': 'emb-r1' });
    const base64 = await embed(token, { ...body, encoding_format: 'base64' }, { 'x-request-id': 'emb-r1' });
    expect(first.status).toBe(200);
    expect(again.headers.get('x-agentos-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const packed = (base64.body['data'] as { embedding: string }[])[0]!.embedding;
    expect(Array.from(new Float32Array(new Uint8Array(Buffer.from(packed, 'base64')).buffer))).toEqual(
      (first.body as Vectors).data[0]!.embedding,
    );
    expect(openai.requests).toHaveLength(1);
    expect(openai.requests[0]!.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 8 });
    const other = await embed(token, { ...body, input: ['three'] }, { 'x-request-id': 'emb-r1' });
    expect(other.status).toBe(422);
    const report = await gateway.call('GET', '/v1/usage?window=day', token);
    expect(report.body['totals']).toMatchObject({
      calls: 1,
      prompt_tokens: (first.body as Vectors).usage.prompt_tokens,
      completion_tokens: 0,
    });
  });

  it('counts input tokens against the budgets and refuses once they are spent', async () => {
    const input = 'budgeted text to embed';
    const reserved = estimatePromptTokens([{ role: 'user', content: input }]);
    const put = await gateway.call(
      'PUT',
      '/v1/admin/tenants/emb-budget/model-policy',
      operator,
      policyWithBudgets([{ scope: 'tenant', period: 'day', limit_usd: 100, limit_tokens: reserved + 2 }]),
    );
    expect(put.status).toBe(200);
    const token = await gateway.token('emb-budget');
    const first = await embed(token, { model: 'local/embed-small', input });
    expect(first.status).toBe(200);
    const spent = (first.body as Vectors).usage.prompt_tokens;
    expect(spent).toBeLessThan(reserved);
    const refused = await embed(token, {
      model: 'local/embed-small',
      input: `${input} ${'x'.repeat(reserved)}`,
    });
    expect(refused.status).toBe(429);
    expect(refused.body['error']).toMatchObject({ code: 'budget_exceeded' });
    const report = await gateway.call('GET', '/v1/usage?window=day', token);
    const budgets = report.body['budgets'] as { scope: string; period: string; spent_tokens: number }[];
    expect(budgets.find((budget) => budget.period === 'day')?.spent_tokens).toBe(spent);
  });

  it('refuses 429 naming the tenant model request rate once the tenant’s model calls are spent', async () => {
    await testTenantDirectory(gateway.tableName).createTenant(
      { tenant_id: 'emb-rate', quotas: { model_requests_per_second: 0.001, model_request_burst: 2 } },
      { by: 'test', at: new Date() },
    );
    const token = await gateway.token('emb-rate');
    const body = { model: 'local/embed-small', input: 'x' };
    expect((await embed(token, body)).status).toBe(200);
    expect((await embed(token, body)).status).toBe(200);
    const refused = await embed(token, body);
    expect(refused.status).toBe(429);
    expect(refused.body['error']).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'tenant_model_request_rate' },
    });
  });

  it('refuses a model the tenant is not entitled to', async () => {
    const put = await gateway.call(
      'PUT',
      '/v1/admin/tenants/emb-denied/model-policy',
      operator,
      policyWithBudgets([{ scope: 'tenant', period: 'day', limit_usd: 100, limit_tokens: 1_000_000 }], {
        entitlements: { allow: ['local/echo'] },
      }),
    );
    expect(put.status).toBe(200);
    const response = await embed(await gateway.token('emb-denied'), {
      model: 'local/embed-small',
      input: 'x',
    });
    expect(response.status).toBe(403);
  });
});

describe('POST /v1/embeddings on remote backends', () => {
  it('forwards to an OpenAI-compatible /embeddings and returns its vectors and usage', async () => {
    const client = await clientFor('emb-remote');
    const answer = await client.embeddings.create({
      model: 'openai/text-embedding-3-small',
      input: ['alpha beta', 'gamma'],
      dimensions: 16,
      user: 'end-user-1',
    });
    expect(answer.data.map((item) => item.embedding.length)).toEqual([16, 16]);
    expect(answer.usage.prompt_tokens).toBe(3);
    expect(openai.requests[0]).toMatchObject({
      path: '/v1/embeddings',
      body: { input: ['alpha beta', 'gamma'], dimensions: 16, user: 'end-user-1', encoding_format: 'float' },
    });
  });

  it('sends the backend the texts with secrets and personal data redacted, as chat does', async () => {
    const response = await embed(await gateway.token('emb-remote'), {
      model: 'openai/text-embedding-3-small',
      input: ['write to jane.doe@example.com', 'nothing to hide'],
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.headers.get('x-agentos-policy') ?? '{}')).toMatchObject({
      decision: 'redact',
      redactions: { email: 1 },
    });
    const sent = openai.requests[0]!.body['input'] as string[];
    expect(sent[0]).not.toContain('jane.doe@example.com');
    expect(sent[1]).toBe('nothing to hide');
  });

  it('embeds with Titan v2 on Bedrock, one InvokeModel call per input', async () => {
    const client = await clientFor('emb-remote');
    const answer = await client.embeddings.create({
      model: 'bedrock/titan-embed-v2',
      input: ['first text', 'second text here'],
      dimensions: 256,
      encoding_format: 'float',
    });
    expect(answer.data.map((item) => item.embedding.length)).toEqual([256, 256]);
    expect(answer.usage.prompt_tokens).toBe(5);
    const calls = bedrock.requests.map((request) => [request.operation, request.modelId, request.body]);
    expect(calls).toHaveLength(2);
    expect(calls).toEqual(
      expect.arrayContaining([
        [
          'invoke',
          'amazon.titan-embed-text-v2:0',
          { inputText: 'first text', normalize: true, dimensions: 256 },
        ],
        [
          'invoke',
          'amazon.titan-embed-text-v2:0',
          { inputText: 'second text here', normalize: true, dimensions: 256 },
        ],
      ]),
    );
    expect(answer.data[0]!.embedding).not.toEqual(answer.data[1]!.embedding);
  });

  it('does not forward dimensions equal to the model’s own length', async () => {
    const answer = await (
      await clientFor('emb-remote')
    ).embeddings.create({
      model: 'openai/text-embedding-3-small',
      input: 'native length',
      dimensions: 1536,
      encoding_format: 'float',
    });
    expect(answer.data[0]!.embedding).toHaveLength(1536);
    expect(openai.requests[0]!.body).not.toHaveProperty('dimensions');
  });

  it('returns Titan’s own 1024-number vectors without asking Bedrock for a length', async () => {
    const response = await embed(await gateway.token('emb-remote'), {
      model: 'bedrock/titan-embed-v2',
      input: 'x',
      dimensions: 1024,
    });
    expect(response.status).toBe(200);
    expect((response.body as Vectors).data[0]!.embedding).toHaveLength(1024);
    expect(bedrock.requests[0]!.body).toEqual({ inputText: 'x', normalize: true });
  });

  it('answers 503 when a backend answers vectors of another length than the catalog says', async () => {
    const response = await embed(await gateway.token('emb-remote'), {
      model: 'openai/misconfigured',
      input: 'x',
    });
    expect(response.status).toBe(503);
    expect(response.body['error']).toMatchObject({ code: 'dependency_unavailable' });
  });

  it('falls back to Bedrock when the OpenAI-compatible backend fails', async () => {
    openai.enqueue({ kind: 'error', status: 503 });
    const response = await embed(await gateway.token('emb-remote'), {
      model: 'openai/text-embedding-3-small',
      input: 'fall back',
      dimensions: 512,
    });
    expect(response.status).toBe(200);
    expect(response.body['model']).toBe('bedrock/titan-embed-v2');
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      hops: [
        { model: 'openai/text-embedding-3-small', outcome: 'fallback', status: 503 },
        { model: 'bedrock/titan-embed-v2', outcome: 'ok' },
      ],
    });
  });

  it('only falls back to models that produce the length asked for', async () => {
    openai.enqueue({ kind: 'error', status: 503 });
    const response = await embed(await gateway.token('emb-remote'), {
      model: 'openai/text-embedding-3-small',
      input: 'no fallback',
      dimensions: 100,
    });
    expect(response.status).toBe(503);
    expect(bedrock.requests).toHaveLength(0);
  });
});
