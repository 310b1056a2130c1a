import { LegacyJsonRpcTransport, parseLegacyAgentCard } from '@a2a-js/sdk/compat/v0_3/client';
import { TaskNotCancelableError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import { Role, TaskState } from '@a2a-js/sdk';
import type { Message, Task } from '@a2a-js/sdk';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../functions/shared/encoding/canonical-json.ts';
import { scriptedInput } from '../support/run-events.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';

let node: TestNode;
let token: string;
let intruderToken: string;
let endpoint: string;

/** The text of a message the local scripted model answers with `reply`. */
const scripted = (reply: string, label = 'a2a', delayMs?: number) =>
  scriptedInput('sample-agent', [{ reply, ...(delayMs === undefined ? {} : { delay_ms: delayMs }) }], label)
    .input.messages[0]!.content;

const authedFetch =
  (bearer: string): typeof fetch =>
  (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${bearer}`);
    return fetch(input, { ...init, headers });
  };

function client(bearer = token): LegacyJsonRpcTransport {
  return new LegacyJsonRpcTransport({ endpoint, fetchImpl: authedFetch(bearer) });
}

function userMessage(text: string, messageId = crypto.randomUUID()): Message {
  return {
    messageId,
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function send(message: Message, blocking: boolean) {
  return client().sendMessage({
    tenant: '',
    message,
    configuration: {
      acceptedOutputModes: ['text/plain'],
      taskPushNotificationConfig: undefined,
      returnImmediately: !blocking,
    },
    metadata: undefined,
  });
}

async function rpc(method: string, params: unknown, bearer = token, headers: Record<string, string> = {}) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
  return response;
}

type Frame = { id?: string; data: { result?: Record<string, unknown>; error?: { code: number } } };

/** Reads SSE frames from a response, stopping after `limit` data frames when given. */
async function readFrames(response: Response, limit = Infinity): Promise<Frame[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: Frame[] = [];
  let buffer = '';
  while (frames.length < limit) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0 && frames.length < limit) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) frames.push({ ...(id === undefined ? {} : { id }), data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return frames;
}

async function runEvents(runId: string): Promise<{ sequence: number; type: string }[]> {
  const response = await fetch(`${node.node.orchestratorUrl}/v1/runs/${runId}/events?limit=1000`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await response.json()) as { data: { sequence: number; type: string }[] }).data;
}

const textOf = (task: Task) =>
  task.status?.message?.parts
    .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
    .join('');

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  await node.seed('globex');
  token = await node.auth.token('acme');
  intruderToken = await node.auth.token('globex');
  endpoint = `${node.node.orchestratorUrl}/v1/a2a/sample-agent`;
}, 120_000);

afterAll(async () => {
  await node?.stop();
});

describe('A2A agent card', () => {
  it('returns a card the SDK reads, naming the JSON-RPC endpoint, streaming and bearer JWT auth', async () => {
    const response = await fetch(`${endpoint}/.well-known/agent-card.json`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const raw = (await response.json()) as Record<string, unknown>;
    expect(raw).toMatchObject({
      url: endpoint,
      protocolVersion: '0.3.0',
      capabilities: { streaming: true, pushNotifications: false },
      defaultInputModes: ['text/plain'],
      defaultOutputModes: ['text/plain'],
      skills: [{ id: 'sample-agent' }],
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      security: [{ bearer: [] }],
    });
    const card = parseLegacyAgentCard(raw);
    expect(card.capabilities?.streaming).toBe(true);
    expect(card.supportedInterfaces.map((i) => i.url)).toContain(endpoint);
  });

  it('returns a card signed with the node’s key, verifiable against its published JWKS', async () => {
    const response = await fetch(`${endpoint}/.well-known/agent-card.json`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const { signatures, ...card } = (await response.json()) as {
      signatures: { protected: string; signature: string }[];
    } & Record<string, unknown>;
    expect(signatures).toHaveLength(1);
    const [signed] = signatures;
    const header = decodeProtectedHeader(`${signed!.protected}..${signed!.signature}`);
    expect(header).toMatchObject({ typ: 'JOSE', jku: `${node.node.orchestratorUrl}/.well-known/jwks.json` });
    const jwks = createLocalJWKSet((await (await fetch(header.jku!)).json()) as JSONWebKeySet);
    const payload = Buffer.from(canonicalJson(card)).toString('base64url');
    const verified = await compactVerify(`${signed!.protected}.${payload}.${signed!.signature}`, jwks);
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual(card);
    // A card changed after signing no longer verifies.
    const forged = Buffer.from(canonicalJson({ ...card, url: 'https://evil.example/a2a' })).toString(
      'base64url',
    );
    await expect(
      compactVerify(`${signed!.protected}.${forged}.${signed!.signature}`, jwks),
    ).rejects.toThrow();
  });

  it("answers 404 for another tenant's agent", async () => {
    await node.auth.registerTenant('initech');
    const other = await node.auth.token('initech');
    const response = await fetch(`${endpoint}/.well-known/agent-card.json`, {
      headers: { authorization: `Bearer ${other}` },
    });
    expect(response.status).toBe(404);
  });
});

describe('A2A message/send', () => {
  it("returns the completed task with the agent's answer when blocking", async () => {
    const result = await send(userMessage(scripted('blocking answer')), true);
    const task = result as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(task)).toBe('blocking answer');
    expect(task.artifacts[0]?.parts[0]?.content).toEqual({ $case: 'text', value: 'blocking answer' });
    expect(task.contextId).toBe(task.id);
  });

  it('returns the same task for the same messageId sent twice', async () => {
    const message = userMessage(scripted('once'));
    const first = (await send(message, false)) as Task;
    const second = (await send(message, false)) as Task;
    expect(second.id).toBe(first.id);
  });

  it('keeps the context id the message supplies', async () => {
    const message = { ...userMessage(scripted('ctx')), contextId: 'conversation-1' };
    const task = (await send(message, false)) as Task;
    expect(task.contextId).toBe('conversation-1');
    expect((await client().getTask({ tenant: '', id: task.id })).contextId).toBe('conversation-1');
  });

  it('throws when push notifications are asked for, with -32003', async () => {
    const response = await rpc('message/send', {
      message: {
        kind: 'message',
        messageId: crypto.randomUUID(),
        role: 'user',
        parts: [{ kind: 'text', text: 'x' }],
      },
      configuration: { pushNotificationConfig: { url: 'https://example.com/hook' } },
    });
    expect(await response.json()).toMatchObject({ id: 7, error: { code: -32003 } });
  });
});

describe('A2A message/stream and tasks/resubscribe', () => {
  it('streams the task, then one status update per run event in order, the last final', async () => {
    const updates = [];
    for await (const event of client().sendMessageStream({
      tenant: '',
      message: userMessage(scripted('streamed', 'stream')),
      configuration: undefined,
      metadata: undefined,
    }))
      updates.push(event);
    expect(updates[0]?.payload?.$case).toBe('task');
    const task = updates[0]!.payload!.value as Task;
    const statuses = updates.slice(1).map((u) => {
      if (u.payload?.$case !== 'statusUpdate') throw new Error(`unexpected ${u.payload?.$case}`);
      return u.payload.value;
    });
    const sequences = statuses.map((s) => s.metadata?.['sequence'] as number);
    expect(sequences).toEqual((await runEvents(task.id)).map((e) => e.sequence));
    expect(statuses.at(-1)?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('ends the raw stream with final: true on the terminal event only', async () => {
    const response = await rpc('message/stream', {
      message: {
        kind: 'message',
        messageId: crypto.randomUUID(),
        role: 'user',
        parts: [{ kind: 'text', text: scripted('raw') }],
      },
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const frames = await readFrames(response);
    expect(frames[0]?.data.result?.['kind']).toBe('task');
    const finals = frames.slice(1).map((f) => f.data.result?.['final']);
    expect(finals.at(-1)).toBe(true);
    expect(finals.slice(0, -1).every((f) => f === false)).toBe(true);
  });

  it("resumes with Last-Event-ID: both parts together are the run's event log, without duplicates", async () => {
    const first = await rpc('message/stream', {
      message: {
        kind: 'message',
        messageId: crypto.randomUUID(),
        role: 'user',
        parts: [{ kind: 'text', text: scripted('resume', 'resume') }],
      },
    });
    // The task and two status updates, then the client goes away.
    const head = await readFrames(first, 3);
    const taskId = head[0]!.data.result!['id'] as string;
    const lastId = head.at(-1)!.id!;
    const rest = await readFrames(
      await rpc('tasks/resubscribe', { id: taskId }, token, { 'last-event-id': lastId }),
    );
    expect(rest[0]?.data.result?.['kind']).toBe('task');
    const seen = [...head.slice(1), ...rest.slice(1)].map((f) => Number(f.id));
    expect(seen).toEqual((await runEvents(taskId)).map((e) => e.sequence));
    expect(rest.at(-1)?.data.result?.['final']).toBe(true);
  });
});

describe('A2A tasks/get and tasks/cancel', () => {
  it('returns the task of a run by its id', async () => {
    const sent = (await send(userMessage(scripted('got')), true)) as Task;
    const task = await client().getTask({ tenant: '', id: sent.id });
    expect(task).toMatchObject({ id: sent.id, status: { state: TaskState.TASK_STATE_COMPLETED } });
    expect(textOf(task)).toBe('got');
  });

  it('throws when canceling a finished task, with -32002', async () => {
    const sent = (await send(userMessage(scripted('finished')), true)) as Task;
    await expect(
      client().cancelTask({ tenant: '', id: sent.id, metadata: undefined }),
    ).rejects.toBeInstanceOf(TaskNotCancelableError);
  });

  it('cancels a task that has not finished', async () => {
    // A run whose model answers only after a long while is still working when the cancel arrives.
    const sent = (await send(userMessage(scripted('late', 'slow', 10_000)), false)) as Task;
    const canceled = await client().cancelTask({ tenant: '', id: sent.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    // Canceled is a final state: a second cancel is refused like one of a completed task.
    await expect(
      client().cancelTask({ tenant: '', id: sent.id, metadata: undefined }),
    ).rejects.toBeInstanceOf(TaskNotCancelableError);
  });

  it("throws task not found (-32001) for another tenant's task", async () => {
    const sent = (await send(userMessage(scripted('mine')), false)) as Task;
    await expect(client(intruderToken).getTask({ tenant: '', id: sent.id })).rejects.toBeInstanceOf(
      TaskNotFoundError,
    );
    const raw = await rpc('tasks/get', { id: sent.id }, intruderToken);
    expect(await raw.json()).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32001, message: 'Task not found' },
    });
  });
});

describe('A2A JSON-RPC errors', () => {
  it('answers an unknown method with -32601', async () => {
    expect(await (await rpc('tasks/list', {})).json()).toMatchObject({ id: 7, error: { code: -32601 } });
  });

  it('answers bad params with -32602, a non-request with -32600 and malformed JSON with -32700', async () => {
    expect(await (await rpc('tasks/get', { nope: 1 })).json()).toMatchObject({ error: { code: -32602 } });
    const post = (body: string) =>
      fetch(endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    const invalid = await post(JSON.stringify({ id: 1, method: 'tasks/get' }));
    expect(invalid.status).toBe(200);
    expect(await invalid.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    expect(await (await post('{"jsonrpc":')).json()).toMatchObject({ id: null, error: { code: -32700 } });
  });

  it('throws when the token lacks runs:write for message/send, with 403', async () => {
    const reader = await node.auth.token('acme', { scopes: ['runs:read'] });
    const response = await rpc(
      'message/send',
      { message: { kind: 'message', messageId: 'ro-1', role: 'user', parts: [{ kind: 'text', text: 'x' }] } },
      reader,
    );
    expect(response.status).toBe(403);
  });
});
