import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrchestratorApi } from '../support/orchestrator-api-only.ts';

type Api = Awaited<ReturnType<typeof startOrchestratorApi>>;
let api: Api;

beforeAll(async () => {
  api = await startOrchestratorApi({ AGENTOS_SSE_MAX_STREAMS_PER_TENANT: '2' });
  await api.seed('acme');
  await api.seed('globex');
});

afterAll(async () => {
  await api.close();
});

async function createRun(token: string): Promise<string> {
  const response = await fetch(`${api.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      agent_id: 'sample-agent',
      input: { messages: [{ role: 'user', content: 'hi' }] },
    }),
  });
  return ((await response.json()) as { run_id: string }).run_id;
}

function openStream(token: string, runId: string, signal: AbortSignal): Promise<Response> {
  return fetch(`${api.url}/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal,
  });
}

describe('event stream limits', () => {
  it('answers 429 rate_limited with Retry-After once a tenant holds its streams, and admits again after one closes', async () => {
    const token = await api.auth.token('acme');
    const runId = await createRun(token);
    const first = new AbortController();
    const second = new AbortController();
    const open = [
      await openStream(token, runId, first.signal),
      await openStream(token, runId, second.signal),
    ];
    expect(open.map((response) => response.status)).toEqual([200, 200]);

    const refused = await openStream(token, runId, AbortSignal.timeout(10_000));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited' } });

    // A streamed background response is refused before its run is created: a retry creates none twice.
    const listRuns = async () =>
      (
        (await (
          await fetch(`${api.url}/v1/runs`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as {
          data: unknown[];
        }
      ).data.length;
    const runsBefore = await listRuns();
    const streamedResponse = await fetch(`${api.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sample-agent', input: 'hi', background: true, stream: true }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(streamedResponse.status).toBe(429);
    await streamedResponse.arrayBuffer();
    expect(await listRuns()).toBe(runsBefore);

    // Another tenant has its own allowance.
    const globex = await api.auth.token('globex');
    const other = new AbortController();
    expect((await openStream(globex, await createRun(globex), other.signal)).status).toBe(200);

    first.abort();
    let admitted = 429;
    for (let tries = 0; admitted === 429 && tries < 50; tries += 1) {
      await new Promise((r) => setTimeout(r, 100));
      const retry = new AbortController();
      const response = await openStream(token, runId, retry.signal);
      admitted = response.status;
      // A refusal's body is read whole before the request is aborted, which would cut it off.
      if (response.status === 429) await response.arrayBuffer();
      retry.abort();
    }
    expect(admitted).toBe(200);
    second.abort();
    other.abort();
  });
});
