import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentOsClient } from '../../../cli/client/agentos-client.ts';
import { startTestNode } from '../../support/local-node-harness.ts';
import type { TestNode } from '../../support/local-node-harness.ts';
import { scriptedInput, waitForRun } from '../../support/run-events.ts';

/**
 * A local node (both services behind the API Gateway front, HLD §3) facing clients that send
 * malformed input or hang up: every answer is a 4xx error envelope, and no client action takes
 * the node down. A crash of the front would fail this whole file, since the node runs in its process.
 */

let node: TestNode;
let token: string;

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  token = await node.auth.token('acme');
});

afterAll(async () => {
  await node.stop();
});

type Reply = { status: number; headers: Headers; body: Record<string, unknown> };

async function send(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: string | Uint8Array; contentType?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: options.body ?? null });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: JSON.parse(text) as Record<string, unknown>,
  };
}

const orchestrator = () => node.node.orchestratorUrl;
const modelPolicy = () => node.node.modelPolicyUrl;
const errorCode = (reply: Reply) => (reply.body['error'] as { code?: string } | undefined)?.code;

function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('malformed input gets a clear 4xx envelope', () => {
  it('rejects malformed percent-encoding with 400, before authentication, on both services', async () => {
    for (const [base, path] of [
      [orchestrator(), '/v1/runs/%E0%A4%A'],
      [modelPolicy(), '/v1/models/%ZZ'],
      [modelPolicy(), '/v1/admin/tenants/%E0%A4%A/model-policy'],
    ] as const) {
      const reply = await send(base, 'GET', path);
      expect({ path, status: reply.status, code: errorCode(reply) }).toEqual({
        path,
        status: 400,
        code: 'invalid_request',
      });
    }
  });

  it('returns 405 with Allow for a known path and another method', async () => {
    const reply = await send(orchestrator(), 'DELETE', '/v1/runs', { token });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')).toBe('GET, POST');
    expect(errorCode(reply)).toBe('invalid_request');
  });

  it('returns 415 for a body that is not JSON', async () => {
    const reply = await send(orchestrator(), 'POST', '/v1/runs', {
      token,
      contentType: 'text/plain',
      body: JSON.stringify(scriptedInput('sample-agent', [{ reply: 'x' }])),
    });
    expect(reply.status).toBe(415);
    expect(errorCode(reply)).toBe('invalid_request');
  });

  it('returns 400 for a body that is not UTF-8, rather than replacing the bytes', async () => {
    const [before, after] = JSON.stringify(scriptedInput('sample-agent', [{ reply: 'x' }], 'BYTES')).split(
      'BYTES',
    );
    const encoder = new TextEncoder();
    const bytes = new Uint8Array([...encoder.encode(before), 0xff, 0xfe, ...encoder.encode(after)]);
    const reply = await send(orchestrator(), 'POST', '/v1/runs', { token, body: bytes });
    expect([reply.status, errorCode(reply)]).toEqual([400, 'invalid_request']);
  });

  it('returns 400 for JSON nested 3,000 levels, in run input and in a tool schema', async () => {
    const run = await send(orchestrator(), 'POST', '/v1/runs', {
      token,
      body: `{"agent_id":"sample-agent","input":{"messages":[{"role":"user","content":"x"}]},"metadata":${nested(3000)}}`,
    });
    expect([run.status, errorCode(run)]).toEqual([400, 'invalid_request']);
    const chat = await send(modelPolicy(), 'POST', '/v1/chat/completions', {
      token,
      body:
        '{"model":"local/echo","messages":[{"role":"user","content":"x"}],' +
        `"tools":[{"type":"function","function":{"name":"deep","parameters":${nested(3000)}}}]}`,
    });
    expect(chat.status).toBe(400);
  });

  it('returns 400 for a lone surrogate in run input', async () => {
    const reply = await send(orchestrator(), 'POST', '/v1/runs', {
      token,
      body: '{"agent_id":"sample-agent","input":{"messages":[{"role":"user","content":"\\ud800"}]}}',
    });
    expect([reply.status, errorCode(reply)]).toEqual([400, 'invalid_request']);
  });

  it('returns 413 for an 11 MB body on both services', async () => {
    const huge = `{"pad":"${'x'.repeat(11 * 1024 * 1024)}"}`;
    for (const [base, path] of [
      [orchestrator(), '/v1/runs'],
      [modelPolicy(), '/v1/chat/completions'],
    ] as const) {
      const reply = await send(base, 'POST', path, { token, body: huge });
      expect({ path, status: reply.status, code: errorCode(reply) }).toEqual({
        path,
        status: 413,
        code: 'invalid_request',
      });
    }
  });

  it('returns 400 for a usage date that is not on the calendar', async () => {
    const reply = await send(modelPolicy(), 'GET', '/v1/usage?window=day&date=2025-13-45', { token });
    expect([reply.status, errorCode(reply)]).toEqual([400, 'invalid_request']);
    const ok = await send(modelPolicy(), 'GET', '/v1/usage?window=day&date=2024-02-29', { token });
    expect(ok.status).toBe(200);
  });

  it('returns 401 with a WWW-Authenticate challenge', async () => {
    const missing = await send(orchestrator(), 'GET', '/v1/runs/run_1');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm="/);
    const bad = await send(modelPolicy(), 'GET', '/v1/models', { token: 'not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token"$/);
  });
});

type Stage = 'sending-headers' | 'sending-body' | 'awaiting-response' | 'reading-response';

/** Sends a request and hangs up at `stage`; resolves once the connection is gone. */
function hangUp(url: string, method: string, path: string, body: string, stage: Stage): Promise<void> {
  return new Promise((resolve) => {
    const target = new URL(path, url);
    const req = request(target, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
    const finish = () => {
      req.destroy();
      resolve();
    };
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (res) => {
      res.on('error', () => resolve());
      res.once('data', finish);
      res.on('end', finish);
    });
    if (stage === 'sending-headers') {
      req.flushHeaders();
      setTimeout(finish, 50);
    } else if (stage === 'sending-body') {
      req.write(body.slice(0, Math.floor(body.length / 2)));
      setTimeout(finish, 50);
    } else {
      req.end(body);
      if (stage === 'awaiting-response') setTimeout(finish, 300);
    }
  });
}

describe('clients that hang up', () => {
  const stages: Stage[] = ['sending-headers', 'sending-body', 'awaiting-response', 'reading-response'];
  const slowReply = (stream: boolean) =>
    JSON.stringify({
      model: 'local/scripted',
      stream,
      messages: [
        {
          role: 'system',
          content: `agentos-script: ${JSON.stringify([{ reply: 'slow '.repeat(200), delay_ms: 1000 }])}`,
        },
        { role: 'user', content: 'go' },
      ],
    });

  it('never take the node down, at any stage of buffered and streamed responses on both services', async () => {
    const client = new AgentOsClient(orchestrator(), token);
    const slowRun = (
      await client.createRun(scriptedInput('sample-agent', [{ reply: 'late', delay_ms: 1500 }]))
    ).body;
    const cases = [
      { url: modelPolicy(), method: 'POST', path: '/v1/chat/completions', body: slowReply(false) },
      { url: modelPolicy(), method: 'POST', path: '/v1/chat/completions', body: slowReply(true) },
      {
        url: orchestrator(),
        method: 'POST',
        path: '/v1/runs',
        body: JSON.stringify(scriptedInput('sample-agent', [{ reply: 'x' }])),
      },
      { url: orchestrator(), method: 'GET', path: `/v1/runs/${slowRun.run_id}/events`, body: '' },
      { url: orchestrator(), method: 'GET', path: `/v1/runs/${slowRun.run_id}`, body: '' },
    ];
    for (const stage of stages) {
      await Promise.all(cases.map((c) => hangUp(c.url, c.method, c.path, c.body, stage)));
    }

    // Both services still serve, and a run still goes end to end.
    expect((await fetch(`${orchestrator()}/v1/health`)).status).toBe(200);
    expect((await fetch(`${modelPolicy()}/v1/health`)).status).toBe(200);
    const finished = await waitForRun(
      client,
      slowRun.run_id,
      (run) => run.status !== 'queued' && run.status !== 'running',
    );
    expect(finished.status).toBe('completed');
    const streamed = await fetch(`${modelPolicy()}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'local/echo',
        stream: true,
        messages: [{ role: 'user', content: 'still here' }],
      }),
    });
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain('data: [DONE]');
  });
});

describe('readiness', () => {
  it('returns 200 with each dependency ok on both services', async () => {
    for (const [base, service] of [
      [orchestrator(), 'agent-orchestrator'],
      [modelPolicy(), 'model-policy'],
    ] as const) {
      const response = await fetch(`${base}/v1/health/ready`);
      expect([response.status, await response.json()]).toEqual([
        200,
        { status: 'ready', service, dependencies: { table: 'ok' } },
      ]);
    }
  });
});
