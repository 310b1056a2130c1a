import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { script, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});

afterAll(async () => {
  await gateway.close();
});

function invokeBody(requestId: string, text = 'hello') {
  return { request_id: requestId, messages: [{ role: 'user', content: text }], max_tokens: 50 };
}

async function monthTotals(token: string): Promise<{ calls: number; total_tokens: number }> {
  return (
    (await gateway.call('GET', '/v1/usage?window=month', token)).body as {
      totals: { calls: number; total_tokens: number };
    }
  ).totals;
}

describe('request ids', () => {
  it('bills a retried request id once and replays the stored response', async () => {
    const token = await gateway.token('retry');
    const first = await gateway.call(
      'POST',
      '/v1/models/local%2Fecho:invoke',
      token,
      invokeBody('run_1/step_1'),
    );
    const second = await gateway.call(
      'POST',
      '/v1/models/local%2Fecho:invoke',
      token,
      invokeBody('run_1/step_1'),
    );
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.body['replayed']).toBe(false);
    expect(second.body['replayed']).toBe(true);
    expect(second.body['output']).toEqual(first.body['output']);
    expect(second.body['usage']).toEqual(first.body['usage']);
    const totals = await monthTotals(token);
    expect(totals.calls).toBe(1);
    expect(totals.total_tokens).toBe((first.body['usage'] as { total_tokens: number }).total_tokens);
  });

  it('refuses a request id reused with a different body', async () => {
    const token = await gateway.token('reuse');
    expect(
      (await gateway.call('POST', '/v1/models/local%2Fecho:invoke', token, invokeBody('r-1', 'a'))).status,
    ).toBe(200);
    const reused = await gateway.call(
      'POST',
      '/v1/models/local%2Fecho:invoke',
      token,
      invokeBody('r-1', 'b'),
    );
    expect(reused.status).toBe(422);
    expect(reused.body['error']).toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('answers request_in_progress while the first call with the id is still running', async () => {
    const token = await gateway.token('slow');
    const body = {
      request_id: 'slow-1',
      messages: [script({ reply: 'finally', delay_ms: 1500 }), { role: 'user', content: 'wait' }],
    };
    // Whichever claims the id first runs for a while; the other must be refused, not run.
    const results = await Promise.all([
      gateway.call('POST', '/v1/models/local%2Fscripted:invoke', token, body),
      gateway.call('POST', '/v1/models/local%2Fscripted:invoke', token, body),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual([200, 409]);
    expect(results.find((result) => result.status === 409)?.body['error']).toMatchObject({
      code: 'request_in_progress',
    });
    expect((await monthTotals(token)).calls).toBe(1);
  });

  it('bills concurrent duplicates of one request id once', async () => {
    const token = await gateway.token('dupes');
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        gateway.call('POST', '/v1/models/local%2Fecho:invoke', token, invokeBody('dup-1')),
      ),
    );
    expect(results.every((result) => result.status === 200 || result.status === 409)).toBe(true);
    expect(
      results.filter((result) => result.status === 200 && result.body['replayed'] === false),
    ).toHaveLength(1);
    expect((await monthTotals(token)).calls).toBe(1);
  });

  it('scopes request ids to the principal that sent them', async () => {
    const alice = await gateway.token('shared', { subject: 'alice' });
    const bob = await gateway.token('shared', { subject: 'bob' });
    await gateway.call(
      'POST',
      '/v1/models/local%2Fecho:invoke',
      alice,
      invokeBody('same-id', 'secret of alice'),
    );
    const other = await gateway.call(
      'POST',
      '/v1/models/local%2Fecho:invoke',
      bob,
      invokeBody('same-id', 'bob asks'),
    );
    expect(other.status).toBe(200);
    expect(other.body['replayed']).toBe(false);
    expect((other.body['output'] as { message: { content: string } }).message.content).toBe('echo: bob asks');
  });

  it('lets a request id be retried after a failed call, runs the backend again and bills neither', async () => {
    const token = await gateway.token('flaky');
    const failing = {
      request_id: 'flaky-1',
      messages: [script({ error: 'server_error' }), { role: 'user', content: 'x' }],
    };
    const failed = await gateway.call('POST', '/v1/models/local%2Fscripted:invoke', token, failing);
    expect(failed.status).toBe(503);
    expect(failed.body['error']).toMatchObject({
      code: 'dependency_unavailable',
      details: {
        route: { hops: [{ model: 'local/scripted', outcome: 'fallback', reason: 'server_error' }] },
      },
    });
    const again = await gateway.call('POST', '/v1/models/local%2Fscripted:invoke', token, failing);
    // The retry ran the backend again (its own hop), rather than being refused as in progress.
    expect(again.status).toBe(503);
    expect(again.body['error']).toMatchObject({
      code: 'dependency_unavailable',
      details: {
        route: { hops: [{ model: 'local/scripted', outcome: 'fallback', reason: 'server_error' }] },
      },
    });
    expect((await monthTotals(token)).calls).toBe(0);
  });

  it('replays a streamed completion as a stream', async () => {
    const token = await gateway.token('stream-replay');
    const send = () =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-request-id': 'sr-1',
        },
        body: JSON.stringify({
          model: 'local/echo',
          stream: true,
          messages: [{ role: 'user', content: 'a b c' }],
        }),
      });
    const content = (sse: string): string =>
      sse
        .split('\n\n')
        .filter((event) => event.startsWith('data: {'))
        .map((event) => JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[] })
        .map((chunk) => chunk.choices[0]?.delta.content ?? '')
        .join('');
    const first = await send();
    const firstText = await first.text();
    const replay = await send();
    const replayText = await replay.text();
    expect(replay.headers.get('x-agentos-replayed')).toBe('true');
    expect(content(replayText)).toBe(content(firstText));
    expect(content(replayText)).toBe('echo: a b c');
    expect(replayText.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect((await monthTotals(token)).calls).toBe(1);
  });
});
