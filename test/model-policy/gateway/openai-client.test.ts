import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { serveModelPolicy } from '../../support/model-policy-front.ts';
import { scopes } from '../../../functions/shared/auth/auth-context.ts';
import type { TestAuth } from '../../support/test-auth.ts';
import { script } from '../support/gateway-harness.ts';

let front: HttpFront;
let auth: TestAuth;
let client: OpenAI;

beforeAll(async () => {
  ({ front, auth } = await serveModelPolicy('oai'));
  client = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: await auth.token('acme'), maxRetries: 0 });
});

afterAll(async () => {
  await front.close();
});

describe('the official openai client against the gateway', () => {
  it('returns a chat completion with usage and the route taken', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'local/echo', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('local/echo');
    expect(data.choices[0]?.message.content).toBe('echo: hello there');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    // 17 bytes of text: ceil(17 / 4) = 5 tokens by the metering convention.
    expect(data.usage).toMatchObject({ completion_tokens: 5 });
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + 5);
    expect(JSON.parse(response.headers.get('x-agentos-route') ?? '{}')).toMatchObject({
      model_ref: 'local/echo',
      provider: 'local',
      hops: [{ model: 'local/echo', outcome: 'ok' }],
    });
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('streams chunks, a final usage chunk and [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'local/echo',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('echo: one two three');
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(Math.ceil(Buffer.byteLength('echo: one two three') / 4));
  });

  it('maps tool calls out and tool results back in', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const turns = script(
      { tool_calls: [{ name: 'lookup', arguments: { q: 'weather' } }] },
      { reply: 'It is sunny.' },
    );
    const first = await client.chat.completions.create({
      model: 'local/scripted',
      messages: [turns, { role: 'user', content: 'weather?' }],
      tools,
    });
    const message = first.choices[0]!.message;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0]!;
    expect(call.type === 'function' ? call.function : undefined).toEqual({
      name: 'lookup',
      arguments: '{"q":"weather"}',
    });
    const second = await client.chat.completions.create({
      model: 'local/scripted',
      messages: [
        turns,
        { role: 'user', content: 'weather?' },
        message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny, 24C' },
      ],
      tools,
    });
    expect(second.choices[0]?.message.content).toBe('It is sunny.');
  });

  it('streams tool calls as indexed deltas the client can assemble', async () => {
    const stream = await client.chat.completions.create({
      model: 'local/scripted',
      messages: [
        script({ tool_calls: [{ name: 'lookup', arguments: { q: 'a long enough query to span deltas' } }] }),
        { role: 'user', content: 'go' },
      ],
      tools: [{ type: 'function', function: { name: 'lookup' } }],
      stream: true,
    });
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
        call.id ||= delta.id ?? '';
        call.name ||= delta.function?.name ?? '';
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    expect([...calls.values()]).toEqual([
      { id: 'call_0_0', name: 'lookup', arguments: '{"q":"a long enough query to span deltas"}' },
    ]);
  });

  it('lists the models the tenant may use', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(expect.arrayContaining(['local/echo', 'local/scripted', 'tier:fast']));
    expect((await client.models.retrieve('local/echo')).id).toBe('local/echo');
  });

  it('replays the same X-Request-Id instead of calling again', async () => {
    const params = { model: 'local/echo', messages: [{ role: 'user' as const, content: 'once' }] };
    const headers = { 'X-Request-Id': `oai-replay-${Date.now()}` };
    const first = await client.chat.completions.create(params, { headers }).withResponse();
    const again = await client.chat.completions.create(params, { headers }).withResponse();
    expect(again.data.id).toBe(first.data.id);
    expect(again.response.headers.get('x-agentos-replayed')).toBe('true');
    expect(first.response.headers.get('x-agentos-replayed')).toBeNull();
  });

  it('raises the gateway error envelope as an APIError', async () => {
    const operator = await auth.token('operator', { subject: 'ops', scopes: [scopes.operator] });
    const put = await fetch(`${front.url}/v1/admin/tenants/locked/model-policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        entitlements: { allow: ['local/scripted'] },
        max_tokens: 100,
        budgets: [{ scope: 'tenant', period: 'month', limit_usd: 1, limit_tokens: 10_000 }],
      }),
    });
    expect(put.status).toBe(200);
    const locked = new OpenAI({
      baseURL: `${front.url}/v1`,
      apiKey: await auth.token('locked'),
      maxRetries: 0,
    });
    const error = await locked.chat.completions
      .create({ model: 'local/echo', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('forbidden');
  });

  it('rejects an unknown request field with 400 naming it', async () => {
    const response = await fetch(`${front.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await auth.token('acme')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/echo', messages: [{ role: 'user', content: 'x' }], best_of: 3 }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error: { code: string; details: { fields: { field: string }[] } };
    };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details.fields[0]?.field).toBe('best_of');
  });
});
