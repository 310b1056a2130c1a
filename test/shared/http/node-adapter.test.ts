import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { script, startGateway } from '../../model-policy/support/gateway-harness.ts';
import type { Gateway } from '../../model-policy/support/gateway-harness.ts';

/** The Model Policy's HTTP core served straight from the Node adapter, no Lambda emulation between. */

let gateway: Gateway;
let token: string;

beforeAll(async () => {
  gateway = await startGateway({ transport: 'node' });
  token = await gateway.token('acme');
});

afterAll(async () => {
  await gateway.close();
});

const chat = (stream: boolean, turns: unknown[] = [{ reply: 'hello there' }]) => ({
  model: 'local/scripted',
  stream,
  messages: [script(...turns), { role: 'user', content: 'go' }],
});

describe('the Node adapter', () => {
  it('returns a buffered JSON answer with the core’s status and headers', async () => {
    const reply = await gateway.call('POST', '/v1/chat/completions', token, chat(false));
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.body).toMatchObject({ object: 'chat.completion' });
  });

  it('streams server-sent events to the end', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat(true)),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text();
    expect(text).toContain('"object":"chat.completion.chunk"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('returns 413 for a body above its limit, after reading it, instead of resetting the connection', async () => {
    const reply = await gateway.call('POST', '/v1/chat/completions', token, {
      pad: 'x'.repeat(11 * 1024 * 1024),
    });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('keeps serving after a client hangs up in the middle of a stream', async () => {
    await new Promise<void>((resolve) => {
      const req = request(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.once('data', () => req.destroy());
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('error', () => resolve());
      req.end(JSON.stringify(chat(true, [{ reply: 'slow '.repeat(500), delay_ms: 200 }])));
    });
    const reply = await gateway.call('POST', '/v1/chat/completions', token, chat(false));
    expect(reply.status).toBe(200);
  });
});
