import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;
let token: string;

const body = { agent_id: 'sample-agent', input: { messages: [{ role: 'user', content: 'hello' }] } };

async function endedRun(): Promise<string> {
  const created = await fetch(`${api.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const { run_id: runId } = (await created.json()) as { run_id: string };
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
