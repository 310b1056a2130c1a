import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptedInput } from '../support/run-events.ts';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';

let node: TestNode;
let token: string;
let intruderToken: string;

/** Input the local scripted model answers with `reply` (after `delayMs`). */
const scripted = (reply: string, label: string, delayMs?: number) =>
  scriptedInput('sample-agent', [{ reply, ...(delayMs === undefined ? {} : { delay_ms: delayMs }) }], label)
    .input.messages[0]!.content;

/** The official client, pointed at the Orchestrator's /v1 as at OpenAI's. */
const client = (bearer = token) =>
  new OpenAI({ apiKey: bearer, baseURL: `${node.node.orchestratorUrl}/v1`, maxRetries: 0 });

type Typed = { type: string; sequence_number: number } & Record<string, unknown>;

async function untilDone(id: string) {
  for (;;) {
    const response = await client().responses.retrieve(id);
    if (!['queued', 'in_progress'].includes(response.status ?? '')) return response;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every typed event of a response's stream after `startingAfter`, optionally stopping after `limit`. */
async function streamed(id: string, startingAfter?: number, limit = Infinity): Promise<Typed[]> {
  const stream = await client().responses.retrieve(id, {
    stream: true,
    ...(startingAfter === undefined ? {} : { starting_after: startingAfter }),
  });
  const events: Typed[] = [];
  for await (const event of stream) {
    events.push(event as unknown as Typed);
    if (events.length >= limit) {
      stream.controller.abort();
      break;
    }
  }
  return events;
}

beforeAll(async () => {
  node = await startTestNode();
  await node.seed('acme');
  await node.seed('globex');
  token = await node.auth.token('acme');
  intruderToken = await node.auth.token('globex');
}, 120_000);

afterAll(async () => {
  await node?.stop();
});

describe('background responses with the official openai client', () => {
  it('returns a queued response, then the agent’s answer once polled to completion', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('Background hello', 'poll'),
      instructions: 'Answer briefly.',
      background: true,
      metadata: { ticket: 'T-1' },
    });
    expect(created.id).toMatch(/^resp_[a-z0-9]{26}$/);
    expect(created.background).toBe(true);
    expect(['queued', 'in_progress']).toContain(created.status);
    const done = await untilDone(created.id);
    expect(done.status).toBe('completed');
    expect(done.output_text).toBe('Background hello');
    expect(done.metadata).toEqual({ ticket: 'T-1' });
    expect(done.usage?.total_tokens).toBeGreaterThan(0);
    // The run behind it is an ordinary run, readable through the runs API.
    const runId = (done as unknown as { agentos: { run_id: string } }).agentos.run_id;
    const run = await fetch(`${node.node.orchestratorUrl}/v1/runs/${runId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await run.json()) as { status: string }).status).toBe('completed');
  });

  it('streams typed events in order from the start to response.completed', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('Streamed answer', 'stream'),
      background: true,
    });
    const events = await streamed(created.id);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.queued',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.find((event) => event.type === 'response.output_text.delta')?.['delta']).toBe(
      'Streamed answer',
    );
    const completed = events.at(-1)!['response'] as { status: string; id: string };
    expect(completed).toMatchObject({ status: 'completed', id: created.id });
  });

  it('streams from create with stream: true', async () => {
    const stream = await client().responses.create({
      model: 'sample-agent',
      input: scripted('Created streaming', 'create-stream'),
      background: true,
      stream: true,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
  });

  it('returns exactly the rest of the stream after starting_after, as one uninterrupted stream', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('Resumed answer', 'resume', 300),
      background: true,
    });
    const first = await streamed(created.id, undefined, 3);
    expect(first).toHaveLength(3);
    const rest = await streamed(created.id, first.at(-1)!.sequence_number);
    const whole = await streamed(created.id);
    expect([...first, ...rest]).toEqual(whole);
    expect(whole.at(-1)?.type).toBe('response.completed');
    // A cursor inside the events one run event expands to (the answer's item, part, text, completion).
    const inside = whole.at(-3)!.sequence_number;
    expect(await streamed(created.id, inside)).toEqual(whole.slice(-2));
  });

  it('cancels a response whose run has not finished, and answers a finished one as it is', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('too late', 'slow', 10_000),
      background: true,
    });
    const cancelled = await client().responses.cancel(created.id);
    expect(cancelled.status).toBe('cancelled');
    const events = await streamed(created.id);
    expect(events.at(-1)?.type).toBe('response.cancelled');
    const again = await client().responses.cancel(created.id);
    expect(again.status).toBe('cancelled');
  });

  it('answers the cancel of a completed response with the completed response', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('done before', 'cancel-done'),
      background: true,
    });
    const done = await untilDone(created.id);
    expect(done.output_text).toBe('done before');
    const answered = await client().responses.cancel(created.id);
    expect(answered.status).toBe('completed');
    expect(answered.output).toEqual(done.output);
  });

  it('accepts include as the openai client sends it when retrieving', async () => {
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('with include', 'include'),
      background: true,
    });
    const retrieved = await client().responses.retrieve(created.id, {
      include: ['message.output_text.logprobs'],
    });
    expect(retrieved.id).toBe(created.id);
  });

  it('returns the response created first for a repeated Idempotency-Key', async () => {
    const body = { model: 'sample-agent', input: scripted('once', 'idem'), background: true };
    const key = { headers: { 'Idempotency-Key': `bg-${crypto.randomUUID()}` } };
    const first = await client().responses.create(body, key);
    const second = await client().responses.create(body, key).withResponse();
    expect(second.data.id).toBe(first.id);
    expect(second.response.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('background response refusals', () => {
  it('throws a 400 naming background when it is not true', async () => {
    const error = await client()
      .responses.create({ model: 'sample-agent', input: 'hi' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('background');
  });

  it('throws a 404 for an unknown agent and for another tenant’s response', async () => {
    await expect(
      client().responses.create({ model: 'no-such-agent', input: 'hi', background: true }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const created = await client().responses.create({
      model: 'sample-agent',
      input: scripted('mine', 'isolation'),
      background: true,
    });
    await expect(client(intruderToken).responses.retrieve(created.id)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    await expect(client(intruderToken).responses.cancel(created.id)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    await expect(client().responses.retrieve('resp_nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // Another tenant's response reads exactly as a missing one, its id aside.
    const bodyOf = async (bearer: string, id: string) => {
      const response = await fetch(`${node.node.orchestratorUrl}/v1/responses/${id}`, {
        headers: { authorization: `Bearer ${bearer}` },
      });
      const json = (await response.json()) as { error: { code: string; message: string } };
      return {
        status: response.status,
        code: json.error.code,
        message: json.error.message.replace(id, 'ID'),
      };
    };
    const missing = `resp_${'0'.repeat(26)}`;
    expect(await bodyOf(intruderToken, created.id)).toEqual(await bodyOf(intruderToken, missing));
  });
});
