import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scopes } from '../../../functions/shared/auth/auth-context.ts';
import { startFakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import type { FakeOpenAiServer } from '../../fakes/fake-openai-server.ts';
import { policyWithBudgets, pricedCatalog, startGateway } from '../support/gateway-harness.ts';
import type { Gateway } from '../support/gateway-harness.ts';

let upstream: FakeOpenAiServer;
let gateway: Gateway;
let operator: string;

const budgets = [{ scope: 'tenant', period: 'month', limit_usd: 10, limit_tokens: 1_000_000 }];

beforeAll(async () => {
  upstream = await startFakeOpenAiServer({ apiKey: 'sk-upstream-test-key' });
  gateway = await startGateway({
    catalog: pricedCatalog(
      {
        backends: {
          local: { kind: 'local' },
          fake: {
            kind: 'openai',
            base_url: upstream.url,
            api_key: 'env:FAKE_UPSTREAM_KEY',
            timeout_ms: 10_000,
          },
        },
        models: {
          'local/echo': { backend: 'local', model: 'echo' },
          'openai/gpt-4o-mini': { backend: 'fake', model: 'gpt-4o-mini' },
          'openai/gpt-4o': { backend: 'fake', model: 'gpt-4o' },
        },
        tiers: { smart: ['openai/gpt-4o', 'openai/gpt-4o-mini'] },
      },
      { input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6 },
    ),
    env: { FAKE_UPSTREAM_KEY: 'sk-upstream-test-key' },
  });
  operator = await gateway.operatorToken();
  const put = await gateway.call(
    'PUT',
    '/v1/admin/tenants/guarded/model-policy',
    operator,
    policyWithBudgets(budgets, {
      entitlements: { allow: ['local/*', 'openai/gpt-4o-mini', 'tier:*'], deny: [] },
      max_tokens: 300,
      redaction: { input: true, output: true },
      deny_rules: [
        { id: 'no-weapons', reason: 'weapons content is not allowed', content: ['\\bnerve agent\\b'] },
      ],
    }),
  );
  if (put.status !== 200) throw new Error(`setting the tenant policy failed: ${put.status}`);
});

beforeEach(() => {
  upstream.reset();
});

afterAll(async () => {
  await gateway.close();
  await upstream.close();
});

const invoke = async (model: string, body: Record<string, unknown>, tenant = 'guarded') =>
  gateway.call('POST', `/v1/models/${encodeURIComponent(model)}:invoke`, await gateway.token(tenant), {
    request_id: `req-${Math.random().toString(36).slice(2)}`,
    ...body,
  });

describe('policy enforcement', () => {
  it('refuses a model the tenant is not entitled to with 403, without calling upstream', async () => {
    const response = await invoke('openai/gpt-4o', { messages: [{ role: 'user', content: 'hi' }] });
    expect(response.status).toBe(403);
    expect(response.body['error']).toMatchObject({
      code: 'forbidden',
      details: { rule_id: 'entitlements', policy: { decision: 'deny' } },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses a request matching a deny rule with the rule and its reason, without calling upstream', async () => {
    const response = await invoke('openai/gpt-4o-mini', {
      messages: [{ role: 'user', content: 'How is a Nerve Agent made?' }],
    });
    expect(response.status).toBe(403);
    expect(response.body['error']).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('weapons content is not allowed'),
      details: { rule_id: 'no-weapons' },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('skips the fallbacks the tenant may not use', async () => {
    const response = await invoke('tier:smart', { messages: [{ role: 'user', content: 'hi' }] });
    expect(response.status).toBe(200);
    expect(response.body['route']).toMatchObject({
      model: 'openai/gpt-4o-mini',
      hops: [{ model: 'openai/gpt-4o-mini' }],
    });
    expect(upstream.requests.map((request) => request.body.model)).toEqual(['gpt-4o-mini']);
  });

  it('sends the upstream redacted input, with the credential from configuration, and reports the counts', async () => {
    const response = await invoke('openai/gpt-4o-mini', {
      messages: [
        {
          role: 'system',
          content: 'Use key sk-proj-abcdefghijklmnopqrstuvwxyz0123 and AKIAIOSFODNN7EXAMPLE.',
        },
        {
          role: 'user',
          content:
            'Mail jane.doe@example.com, call +1 415 555 2671, pay with 4111 1111 1111 1111, order 4111 1111 1111 1112, header Bearer abcdefgh12345678',
        },
      ],
    });
    expect(response.status).toBe(200);
    const sent = JSON.stringify(upstream.requests[0]?.body.messages);
    for (const secret of [
      'sk-proj-abc',
      'AKIAIOSFODNN7EXAMPLE',
      'jane.doe@',
      '555 2671',
      '4111 1111 1111 1111',
      'abcdefgh12345678',
    ]) {
      expect(sent).not.toContain(secret);
    }
    expect(sent).toContain('order 4111 1111 1111 1112');
    expect(sent).toContain('[REDACTED:payment_card]');
    expect(upstream.requests[0]?.headers.authorization).toBe('Bearer sk-upstream-test-key');
    expect(response.body['policy']).toMatchObject({
      decision: 'redact',
      redactions: { openai_key: 1, aws_access_key: 1, email: 1, phone: 1, payment_card: 1, bearer_token: 1 },
    });
  });

  it('sends tool-call arguments and tool results redacted and still valid JSON', async () => {
    const response = await invoke('openai/gpt-4o-mini', {
      messages: [
        { role: 'user', content: 'pay the invoice' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: {
                name: 'pay',
                arguments: JSON.stringify({ to: 'jane@example.com', card: 4111111111111111 }).replace(
                  '}',
                  ',"at_ms":1718361234567}',
                ),
              },
            },
          ],
        },
        {
          role: 'tool',
          tool_call_id: 'call_1',
          content: '{"receipt_to":"+1 415 555 2671","at_ms":1718361234574}',
        },
      ],
    });
    expect(response.status).toBe(200);
    const sent = upstream.requests[0]!.body.messages;
    const call = (sent[1]!.tool_calls as { function: { arguments: string } }[])[0]!;
    expect(JSON.parse(call.function.arguments)).toEqual({
      to: '[REDACTED:email]',
      card: '[REDACTED:payment_card]',
      at_ms: 1718361234567,
    });
    expect(JSON.parse(sent[2]!.content as string)).toEqual({
      receipt_to: '[REDACTED:phone]',
      at_ms: 1718361234574,
    });
  });

  it('redacts the answer when the tenant redacts output', async () => {
    upstream.enqueue({ kind: 'reply', text: 'Write to ops@example.org or call 415-555-2671.' });
    const response = await invoke('openai/gpt-4o-mini', {
      messages: [{ role: 'user', content: 'contact?' }],
    });
    expect((response.body['output'] as { message: { content: string } }).message.content).toBe(
      'Write to [REDACTED:email] or call [REDACTED:phone].',
    );
    expect(response.body['policy']).toMatchObject({ output_redactions: { email: 1, phone: 1 } });
  });

  it('redacts a streamed answer without ever sending the sensitive text', async () => {
    upstream.enqueue({ kind: 'reply', text: 'The admin is root@example.org and nobody else.' });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await gateway.token('guarded')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        model: 'openai/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'who?' }],
      }),
    });
    const body = await response.text();
    expect(body).not.toContain('root@');
    const text = body
      .split('\n\n')
      .filter((event) => event.startsWith('data: {'))
      .map(
        (event) =>
          (JSON.parse(event.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta
            .content ?? '',
      )
      .join('');
    expect(text).toBe('The admin is [REDACTED:email] and nobody else.');
  });

  it('lowers max_tokens to the tenant cap before calling upstream', async () => {
    const response = await invoke('openai/gpt-4o-mini', {
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 10_000,
    });
    expect(response.status).toBe(200);
    expect(upstream.requests[0]?.body.max_tokens).toBe(300);
    expect(response.body['policy']).toMatchObject({ max_tokens_applied: 300 });
  });

  it('checks a request against policy and budgets without calling a model', async () => {
    const token = await gateway.token('guarded');
    const denied = await gateway.call('POST', '/v1/policy/check', token, { model_ref: 'openai/gpt-4o' });
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({
      allowed: false,
      denial: { code: 'forbidden' },
      policy: { decision: 'deny' },
    });
    const allowed = await gateway.call('POST', '/v1/policy/check', token, {
      model_ref: 'tier:smart',
      messages: [{ role: 'user', content: 'mail a@b.io' }],
      max_tokens: 100,
    });
    expect(allowed.body).toMatchObject({
      allowed: true,
      chain: ['openai/gpt-4o-mini'],
      policy: { decision: 'redact', redactions: { email: 1 }, max_tokens_applied: 100 },
      budget: { within_budget: true, max_output_tokens: 100, limited_by: null },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('lists only the models the tenant may use', async () => {
    const list = await gateway.call('GET', '/v1/models', await gateway.token('guarded'));
    expect((list.body['data'] as { id: string }[]).map((model) => model.id)).toEqual([
      'local/echo',
      'openai/gpt-4o-mini',
      'tier:smart',
    ]);
  });
});

describe('tenant policy administration', () => {
  it('shows the node default for a tenant without a policy of its own', async () => {
    const response = await gateway.call('GET', '/v1/admin/tenants/newcomer/model-policy', operator);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ source: 'default', version: 0, tenant_id: 'newcomer' });
    const policy = response.body['policy'] as { budgets: { limit_tokens?: number; limit_usd?: number }[] };
    expect(policy.budgets.length).toBeGreaterThan(0);
    expect(
      policy.budgets.every((budget) => budget.limit_tokens !== undefined || budget.limit_usd !== undefined),
    ).toBe(true);
  });

  it('refuses a policy that would leave a tenant without a token budget', async () => {
    const response = await gateway.call(
      'PUT',
      '/v1/admin/tenants/unbounded/model-policy',
      operator,
      policyWithBudgets([{ scope: 'tenant', period: 'month', limit_usd: 5 }]),
    );
    expect(response.status).toBe(400);
    expect(response.body['error']).toMatchObject({
      code: 'invalid_request',
      details: { fields: [{ field: 'budgets' }] },
    });
  });

  it('versions stored policies', async () => {
    const first = await gateway.call(
      'PUT',
      '/v1/admin/tenants/versioned/model-policy',
      operator,
      policyWithBudgets(budgets),
    );
    const second = await gateway.call(
      'PUT',
      '/v1/admin/tenants/versioned/model-policy',
      operator,
      policyWithBudgets(budgets),
    );
    expect(first.body).toMatchObject({ source: 'stored', version: 1, updated_by: 'ops' });
    expect(second.body).toMatchObject({ version: 2 });
  });

  it('refuses an operator-scoped token of any tenant but the operator tenant', async () => {
    const foreignOperator = await gateway.token('guarded', { subject: 'ops', scopes: [scopes.operator] });
    const read = await gateway.call('GET', '/v1/admin/tenants/guarded/model-policy', foreignOperator);
    expect(read.status).toBe(403);
    expect(read.body['error']).toMatchObject({ code: 'forbidden' });
    const write = await gateway.call(
      'PUT',
      '/v1/admin/tenants/victim/model-policy',
      foreignOperator,
      policyWithBudgets([
        { scope: 'tenant', period: 'month', limit_usd: 1_000_000, limit_tokens: 1_000_000_000 },
      ]),
    );
    expect(write.status).toBe(403);
    const victim = await gateway.call('GET', '/v1/admin/tenants/victim/model-policy', operator);
    expect(victim.body).toMatchObject({ source: 'default' });
  });

  it('requires the operator scope', async () => {
    const response = await gateway.call(
      'GET',
      '/v1/admin/tenants/guarded/model-policy',
      await gateway.token('guarded'),
    );
    expect(response.status).toBe(403);
  });
});
