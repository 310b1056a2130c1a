import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEventsResource } from '../../functions/orchestrator/events/stream-token.ts';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let token: string;

const body = { agent_id: 'sample-agent', input: { messages: [{ role: 'user', content: 'hello' }] } };

async function createRun(): Promise<{ run_id: string; events_url: string }> {
  const created = await fetch(`${api.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await created.json()) as { run_id: string; events_url: string };
}

async function endedRun(): Promise<string> {
  const { run_id: runId } = await createRun();
  await fetch(`${api.url}/v1/runs/${runId}:cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return runId;
}

function stream(path: string, headers: Record<string, string> = {}) {
  return fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers },
  });
}

function eventIds(text: string): string[] {
  return [...text.matchAll(/^id: (\d+)$/gm)].map((match) => match[1]!);
}

beforeAll(async () => {
  api = await startOrchestratorApi();
  await api.seed('acme');
  token = await api.auth.token('acme');
});

afterAll(async () => {
  await api.close();
});

describe('reconnecting to the stream of an ended run', () => {
  it('returns 204 No Content to a Last-Event-ID at the terminal event, so EventSource stops', async () => {
    const runId = await endedRun();
    const response = await stream(`/v1/runs/${runId}/events`, { 'last-event-id': '2' });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('returns 204 No Content to ?after= past the terminal event', async () => {
    const runId = await endedRun();
    const response = await stream(`/v1/runs/${runId}/events?after=7`);
    expect(response.status).toBe(204);
  });

  it('returns the remaining events first when the client is behind, and 204 on the next reconnect', async () => {
    const runId = await endedRun();
    const rest = await stream(`/v1/runs/${runId}/events`, { 'last-event-id': '1' });
    expect(rest.status).toBe(200);
    const ids = eventIds(await rest.text());
    expect(ids).toEqual(['2']);
    const again = await stream(`/v1/runs/${runId}/events`, { 'last-event-id': ids.at(-1)! });
    expect(again.status).toBe(204);
  });

  it('returns a JSON page, not 204, to a client that does not ask for a stream', async () => {
    const runId = await endedRun();
    const response = await fetch(`${api.url}/v1/runs/${runId}/events?after=2`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: [], has_more: false, next_after: 2 });
  });
});

describe('CORS on a node that configures none', () => {
  it('returns no CORS headers to a preflight or a request from any origin', async () => {
    const origin = 'https://app.example.com';
    const preflight = await fetch(`${api.url}/v1/runs`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const response = await fetch(`${api.url}/v1/runs`, {
      headers: { origin, authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the stream token of a run’s events_url', () => {
  it('returns an absolute events_url with a stream token on creation and on reading the run', async () => {
    const created = await createRun();
    const url = new URL(created.events_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${api.url}/v1/runs/${created.run_id}/events`);
    expect(url.searchParams.get('stream_token')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const read = await fetch(`${api.url}/v1/runs/${created.run_id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const run = (await read.json()) as { events_url: string };
    expect(new URL(run.events_url).searchParams.get('stream_token')).not.toBeNull();
  });

  it('returns the run’s events, streamed and paged, to the events_url without an Authorization header', async () => {
    const created = await createRun();
    await fetch(`${api.url}/v1/runs/${created.run_id}:cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const streamed = await fetch(created.events_url, { headers: { accept: 'text/event-stream' } });
    expect(streamed.status).toBe(200);
    expect(eventIds(await streamed.text())).toEqual(['1', '2']);
    const paged = await fetch(created.events_url);
    expect(paged.status).toBe(200);
    expect(await paged.json()).toMatchObject({ data: [{ type: 'run.queued' }, { type: 'run.canceled' }] });
  });

  it('throws 401 when the token is used for another run’s events', async () => {
    const first = await createRun();
    const second = await createRun();
    const streamToken = new URL(first.events_url).searchParams.get('stream_token')!;
    const response = await fetch(`${api.url}/v1/runs/${second.run_id}/events?stream_token=${streamToken}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('throws 401 when the token is used on another route, in the query or as a bearer token', async () => {
    const created = await createRun();
    const streamToken = new URL(created.events_url).searchParams.get('stream_token')!;
    const inQuery = await fetch(`${api.url}/v1/runs/${created.run_id}?stream_token=${streamToken}`);
    expect(inQuery.status).toBe(401);
    const asBearer = await fetch(`${api.url}/v1/runs/${created.run_id}`, {
      headers: { authorization: `Bearer ${streamToken}` },
    });
    expect(asBearer.status).toBe(401);
    const writing = await fetch(`${api.url}/v1/runs/${created.run_id}:cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${streamToken}` },
    });
    expect(writing.status).toBe(401);
  });

  it('throws 401 when the token has expired', async () => {
    const created = await createRun();
    const expired = await api.auth.tokens.issue({
      tenantId: 'acme',
      subject: 'user-acme',
      scopes: ['runs:read'],
      resource: runEventsResource(created.run_id),
      ttlSeconds: -60,
    });
    const response = await fetch(`${api.url}/v1/runs/${created.run_id}/events?stream_token=${expired}`);
    expect(response.status).toBe(401);
  });
});
