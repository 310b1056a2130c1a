import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { testAwsConfig } from '../support/aws.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let token: string;

const body = { agent_id: 'sample-agent', input: { messages: [{ role: 'user', content: 'hello' }] } };

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      'content-type': 'application/json',
      ...options.headers,
    },
    body: options.raw ?? (options.body === undefined ? null : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

async function countItems(): Promise<number> {
  const db = createDocumentClient(testAwsConfig());
  const result = await db.send(new ScanCommand({ TableName: api.resources.tableName, Select: 'COUNT' }));
  return result.Count ?? 0;
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  await api.seed('acme');
  await api.seed('globex');
  token = await api.auth.token('acme');
});

afterAll(async () => {
  await api.close();
});

describe('POST /v1/runs', () => {
  it('creates a queued run, returns it with a Location, and schedules its first step', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      object: 'run',
      agent_id: 'sample-agent',
      status: 'queued',
      last_sequence: 1,
    });
    const runId = created.json?.['run_id'] as string;
    expect(created.headers.get('location')).toBe(`/v1/runs/${runId}`);
    expect(created.headers.get('x-correlation-id')).toBeTruthy();
    const fetched = await call('GET', `/v1/runs/${runId}`, { token });
    // Each answer carries its own freshly minted stream token in events_url.
    const { events_url: createdEvents, ...createdRun } = created.json ?? {};
    const { events_url: fetchedEvents, ...fetchedRun } = fetched.json ?? {};
    expect(fetchedRun).toEqual(createdRun);
    expect(new URL(String(fetchedEvents)).pathname).toBe(new URL(String(createdEvents)).pathname);
    const sqs = new SQSClient(testAwsConfig());
    const messages = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: api.resources.stepQueueUrl, MaxNumberOfMessages: 10 }),
    );
    const bodies = (messages.Messages ?? []).map(
      (m) => JSON.parse(m.Body ?? '{}') as { run_id: string; step: number; auth: { tenant_id: string } },
    );
    expect(bodies).toContainEqual(
      expect.objectContaining({
        run_id: runId,
        step: 1,
        auth: expect.objectContaining({ tenant_id: 'acme' }),
      }),
    );
  });

  it('creates exactly one run for 50 concurrent requests with one Idempotency-Key', async () => {
    const key = `key-${crypto.randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        call('POST', '/v1/runs', { token, body, headers: { 'idempotency-key': key } }),
      ),
    );
    const runIds = new Set(answers.map((a) => a.json?.['run_id']));
    expect(runIds.size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const replays = answers.filter((a) => a.status === 200);
    expect(replays).toHaveLength(49);
    expect(replays.every((a) => a.headers.get('idempotent-replayed') === 'true')).toBe(true);
  });

  it('replays the same run for the same key and body, even with keys reordered', async () => {
    const key = `key-${crypto.randomUUID()}`;
    const first = await call('POST', '/v1/runs', { token, body, headers: { 'idempotency-key': key } });
    const reordered = { input: body.input, agent_id: body.agent_id };
    const second = await call('POST', '/v1/runs', {
      token,
      body: reordered,
      headers: { 'idempotency-key': key },
    });
    expect(second.status).toBe(200);
    expect(second.json?.['run_id']).toBe(first.json?.['run_id']);
  });

  it('rejects the same key with a different body with 422 idempotency_key_reused', async () => {
    const key = `key-${crypto.randomUUID()}`;
    await call('POST', '/v1/runs', { token, body, headers: { 'idempotency-key': key } });
    const other = { ...body, input: { messages: [{ role: 'user', content: 'something else' }] } };
    const reused = await call('POST', '/v1/runs', {
      token,
      body: other,
      headers: { 'idempotency-key': key },
    });
    expect(reused.status).toBe(422);
    expect(reused.json).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('scopes idempotency keys by tenant: another tenant with the same key gets its own run', async () => {
    const key = `key-${crypto.randomUUID()}`;
    const mine = await call('POST', '/v1/runs', { token, body, headers: { 'idempotency-key': key } });
    const theirs = await call('POST', '/v1/runs', {
      token: await api.auth.token('globex'),
      body,
      headers: { 'idempotency-key': key },
    });
    expect(theirs.status).toBe(201);
    expect(theirs.json?.['run_id']).not.toBe(mine.json?.['run_id']);
  });

  it('answers 400 naming the field for malformed JSON, unknown fields and oversized bodies, and stores nothing', async () => {
    const before = await countItems();
    const malformed = await call('POST', '/v1/runs', { token, raw: '{"agent_id": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({
      error: { code: 'invalid_request', details: { fields: [{ field: 'body' }] } },
    });
    const unknown = await call('POST', '/v1/runs', { token, body: { ...body, priority: 'high' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({
      error: {
        code: 'invalid_request',
        details: { fields: [{ field: 'priority', message: 'unknown field' }] },
      },
    });
    const badRole = await call('POST', '/v1/runs', {
      token,
      body: { ...body, input: { messages: [{ role: 'robot', content: 'x' }] } },
    });
    expect(badRole.status).toBe(400);
    expect(JSON.stringify(badRole.json)).toContain('input.messages.0');
    const huge = await call('POST', '/v1/runs', {
      token,
      body: { ...body, input: { messages: [{ role: 'user', content: 'x'.repeat(300 * 1024) }] } },
    });
    expect(huge.status).toBe(400);
    expect(huge.json).toMatchObject({
      error: { code: 'invalid_request', details: { fields: [{ field: 'body' }] } },
    });
    const badKey = await call('POST', '/v1/runs', {
      token,
      body,
      headers: { 'idempotency-key': 'has space' },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.json).toMatchObject({ error: { details: { fields: [{ field: 'Idempotency-Key' }] } } });
    expect(await countItems()).toBe(before);
  });

  it('answers 404 for an agent the tenant does not have', async () => {
    const answer = await call('POST', '/v1/runs', { token, body: { ...body, agent_id: 'nope' } });
    expect(answer.status).toBe(404);
    expect(answer.json).toMatchObject({ error: { code: 'not_found', details: { field: 'agent_id' } } });
  });
});

describe('tenant isolation', () => {
  it('answers 404 with no run data when another tenant reads, cancels or streams a run', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = created.json?.['run_id'] as string;
    const intruder = await api.auth.token('globex');
    const unknownRun = `run_${'0'.repeat(26)}`;
    for (const [method, path] of [
      ['GET', `/v1/runs/${runId}`],
      ['POST', `/v1/runs/${runId}:cancel`],
      ['GET', `/v1/runs/${runId}/events`],
    ] as const) {
      const answer = await call(method, path, { token: intruder });
      const missing = await call(method, path.replace(runId, unknownRun), { token: intruder });
      expect(answer.status).toBe(404);
      expect(Object.keys(answer.json?.['error'] as object).sort()).toEqual([
        'code',
        'correlation_id',
        'details',
        'message',
      ]);
      expect(JSON.stringify(answer.json)).not.toContain('hello');
      // Indistinguishable from a run that does not exist at all.
      expect({ ...(answer.json?.['error'] as object), correlation_id: '', message: '' }).toEqual({
        ...(missing.json?.['error'] as object),
        correlation_id: '',
        message: '',
      });
    }
    const mine = await call('GET', `/v1/runs/${runId}`, { token });
    expect(mine.json?.['status']).toBe('queued');
  });
});

describe('cancel and events', () => {
  it('cancels a queued run once, idempotently, and records run.canceled as its last event', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = created.json?.['run_id'] as string;
    const canceled = await call('POST', `/v1/runs/${runId}:cancel`, { token });
    expect(canceled.status).toBe(200);
    expect(canceled.json).toMatchObject({ status: 'canceled', last_sequence: 2 });
    const again = await call('POST', `/v1/runs/${runId}:cancel`, { token });
    expect(again.json).toMatchObject({ status: 'canceled', last_sequence: 2 });
    const page = await call('GET', `/v1/runs/${runId}/events`, { token });
    expect(page.status).toBe(200);
    const events = page.json?.['data'] as { type: string; sequence: number }[];
    expect(events.map((e) => [e.sequence, e.type])).toEqual([
      [1, 'run.queued'],
      [2, 'run.canceled'],
    ]);
  });

  it('pages events with after and limit', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = created.json?.['run_id'] as string;
    await call('POST', `/v1/runs/${runId}:cancel`, { token });
    const first = await call('GET', `/v1/runs/${runId}/events?limit=1`, { token });
    expect(first.json).toMatchObject({ has_more: true, next_after: 1 });
    const second = await call('GET', `/v1/runs/${runId}/events?after=1&limit=1`, { token });
    expect(second.json).toMatchObject({ has_more: false, next_after: 2, data: [{ type: 'run.canceled' }] });
    const bad = await call('GET', `/v1/runs/${runId}/events?limit=0`, { token });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { details: { fields: [{ field: 'limit' }] } } });
  });

  it('streams a finished run over SSE and closes after the terminal event', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = created.json?.['run_id'] as string;
    await call('POST', `/v1/runs/${runId}:cancel`, { token });
    const response = await fetch(`${api.url}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    expect(text).toMatch(/^retry: \d+\n\n/);
    expect(text).toContain('id: 1\nevent: run.queued\ndata: {');
    expect(text.trimEnd().endsWith('}')).toBe(true);
    expect(text).toContain('id: 2\nevent: run.canceled\n');
  });
});

describe('runs of other members of the tenant', () => {
  it('answers 404 to a member reading, streaming or canceling another member’s run', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = (created.json as { run_id: string }).run_id;
    const colleague = await api.auth.token('acme', { subject: 'colleague' });
    for (const [method, path, headers] of [
      ['GET', `/v1/runs/${runId}`, {}],
      ['GET', `/v1/runs/${runId}/events`, {}],
      ['GET', `/v1/runs/${runId}/events`, { accept: 'text/event-stream' }],
      ['POST', `/v1/runs/${runId}:cancel`, {}],
    ] as const) {
      const answer = await call(method, path, { token: colleague, headers });
      expect({ method, path, status: answer.status }).toEqual({ method, path, status: 404 });
    }
    expect((await call('GET', `/v1/runs/${runId}`, { token })).json).toMatchObject({ status: 'queued' });
  });

  it('lets runs:read:all read every run of the tenant, and runs:write:all cancel them', async () => {
    const created = await call('POST', '/v1/runs', { token, body });
    const runId = (created.json as { run_id: string }).run_id;
    const reader = await api.auth.token('acme', {
      subject: 'auditor',
      scopes: ['runs:read', 'runs:read:all', 'runs:write'],
    });
    expect((await call('GET', `/v1/runs/${runId}`, { token: reader })).status).toBe(200);
    expect((await call('POST', `/v1/runs/${runId}:cancel`, { token: reader })).status).toBe(404);
    const admin = await api.auth.token('acme', {
      subject: 'admin',
      scopes: ['runs:write', 'runs:write:all'],
    });
    const canceled = await call('POST', `/v1/runs/${runId}:cancel`, { token: admin });
    expect([canceled.status, canceled.json?.['status']]).toEqual([200, 'canceled']);
  });
});
