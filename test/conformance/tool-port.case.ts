import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { ToolInvocation, ToolPort } from '../../functions/orchestrator/ports/tool-port.ts';
import { ToolSpecSchema } from '../../functions/orchestrator/schemas/tool.ts';
import type { ToolSpec } from '../../functions/orchestrator/schemas/tool.ts';
import type { ReceivedRequest } from '../support/tool-test-doubles.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: 'p', type: 'user' },
  scopes: [],
  policy_context: {},
});

/**
 * A ToolPort under test: its adapter, a way to declare a tenant's HTTP tool and store a tenant's
 * tool secret, and a local test server (tool-test-doubles.ts) the adapter's HTTP client is allowed
 * to reach, with the requests it received.
 */
export type ToolPortHarness = {
  port: ToolPort;
  addHttpTool(tenantId: string, toolId: string, spec: unknown): Promise<void>;
  setSecret(tenantId: string, secret: string, value: string): Promise<void>;
  server: { url: string; received: ReceivedRequest[] };
};

/** Parses an HTTP tool spec as the tools API would (defaults applied). */
export function httpToolSpec(spec: unknown): ToolSpec {
  return ToolSpecSchema.parse(spec);
}

/** The behaviour every ToolPort adapter must have. */
export function toolPortConformance(name: string, factory: () => Promise<ToolPortHarness>): void {
  describe(`ToolPort conformance: ${name}`, () => {
    const tenant = () => `x${crypto.randomUUID().slice(0, 8)}`;
    const call = (
      toolName: string,
      args: unknown,
      changes: Partial<ToolInvocation> = {},
    ): ToolInvocation => ({
      toolCallId: 'call_1',
      name: toolName,
      arguments: typeof args === 'string' ? args : JSON.stringify(args),
      runId: 'run_test',
      step: 1,
      idempotencyKey: 'run_test/s1/c0',
      timeoutMs: 5000,
      memoryNamespace: 'agents',
      ...changes,
    });

    it('describes the built-ins to every tenant and a tenant’s HTTP tools to that tenant only, in the order asked', async () => {
      const { port, addHttpTool, server } = await factory();
      const a = tenant();
      await addHttpTool(a, 'lookup', {
        description: 'Looks up',
        http: { method: 'GET', url: `${server.url}/echo` },
      });
      const tools = await port.describe(authFor(a), ['lookup', 'echo', 'missing', 'memory_search', 'recall']);
      expect(tools.map((tool) => tool.function.name)).toEqual(['lookup', 'echo', 'memory_search', 'recall']);
      expect(tools[1]?.function.parameters).toMatchObject({ type: 'object', required: ['text'] });
      expect(
        (await port.describe(authFor(tenant()), ['lookup', 'echo'])).map((t) => t.function.name),
      ).toEqual(['echo']);
    });

    it('returns the output of a built-in, and not_found for a tool the tenant does not have', async () => {
      const { port } = await factory();
      const t = tenant();
      expect(await port.invoke(authFor(t), call('echo', { text: 'hi' }))).toEqual({
        output: 'hi',
        isError: false,
      });
      expect(await port.invoke(authFor(t), call('word_count', { text: ' one two  three ' }))).toEqual({
        output: '3',
        isError: false,
      });
      expect(await port.invoke(authFor(t), call('nope', {}))).toMatchObject({
        isError: true,
        error: { code: 'not_found', retryable: false },
      });
    });

    it('returns invalid_arguments for malformed or invalid arguments instead of throwing', async () => {
      const { port } = await factory();
      const t = tenant();
      expect(await port.invoke(authFor(t), call('echo', '{not json'))).toMatchObject({
        isError: true,
        error: { code: 'invalid_arguments', retryable: false },
      });
      const invalid = await port.invoke(authFor(t), call('echo', { txt: 'typo' }));
      expect(invalid).toMatchObject({ isError: true, error: { code: 'invalid_arguments' } });
      expect(invalid.output).toContain('text');
    });

    it('keeps memory per tenant and namespace through memory_put, memory_get, memory_search and the legacy names', async () => {
      const { port } = await factory();
      const a = tenant();
      const b = tenant();
      await port.invoke(authFor(a), call('memory_put', { key: 'colour', value: 'the boat is teal' }));
      await port.invoke(authFor(a), call('remember', { key: 'pet', value: 'a teal teal parrot' }));
      await port.invoke(authFor(a), call('memory_put', { key: 'car', value: 'red' }));
      expect(await port.invoke(authFor(a), call('memory_get', { key: 'colour' }))).toEqual({
        output: 'the boat is teal',
        isError: false,
      });
      expect((await port.invoke(authFor(a), call('recall', { key: 'pet' }))).output).toBe(
        'a teal teal parrot',
      );
      const found = JSON.parse(
        (await port.invoke(authFor(a), call('memory_search', { query: 'teal' }))).output,
      ) as {
        key: string;
      }[];
      expect(found.map((hit) => hit.key)).toEqual(['pet', 'colour']);
      expect((await port.invoke(authFor(b), call('memory_get', { key: 'colour' }))).output).toBe('');
      expect(
        (await port.invoke(authFor(a), call('memory_get', { key: 'colour' }, { memoryNamespace: 'other' })))
          .output,
      ).toBe('');
      expect(
        JSON.parse((await port.invoke(authFor(b), call('memory_search', { query: 'teal' }))).output),
      ).toEqual([]);
    });

    it('returns the pause a wait asks for', async () => {
      const { port } = await factory();
      expect(await port.invoke(authFor(tenant()), call('wait', { seconds: 90 }))).toMatchObject({
        isError: false,
        suspendSeconds: 90,
      });
      expect(await port.invoke(authFor(tenant()), call('wait', { seconds: 0 }))).toMatchObject({
        error: { code: 'invalid_arguments' },
      });
    });

    it('calls an HTTP tool with its URL filled, its query, headers, credentials and the Idempotency-Key', async () => {
      const { port, addHttpTool, setSecret, server } = await factory();
      const t = tenant();
      await setSecret(t, 'crm-key', 's3cr3t');
      await addHttpTool(t, 'crm_lookup', {
        description: 'Looks a customer up',
        parameters: {
          type: 'object',
          properties: { id: { type: 'string' }, fields: { type: 'string' } },
          required: ['id'],
          additionalProperties: false,
        },
        http: {
          method: 'GET',
          url: `${server.url}/echo/customers/{id}`,
          headers: { 'X-Team': 'support' },
          credentials: { secret: 'crm-key', header: 'X-Api-Key', prefix: 'Key ' },
        },
      });
      const result = await port.invoke(authFor(t), call('crm_lookup', { id: 'a/b c', fields: 'name' }));
      expect(result.isError).toBe(false);
      const seen = JSON.parse(result.output) as ReceivedRequest;
      expect(seen.method).toBe('GET');
      expect(seen.url).toBe('/echo/customers/a%2Fb%20c?fields=name');
      expect(seen.headers).toMatchObject({
        'x-team': 'support',
        'x-api-key': 'Key s3cr3t',
        'idempotency-key': 'run_test/s1/c0',
      });
    });

    it('returns invalid_arguments for an argument of . or .., which would move up the tool’s URL', async () => {
      const { port, addHttpTool, server } = await factory();
      const t = tenant();
      await addHttpTool(t, 'doc_get', {
        description: 'Reads a document',
        parameters: {
          type: 'object',
          properties: { id: { type: 'string' } },
          required: ['id'],
          additionalProperties: false,
        },
        http: { method: 'GET', url: `${server.url}/echo/docs/{id}/raw` },
      });
      const before = server.received.length;
      for (const id of ['..', '.']) {
        const result = await port.invoke(authFor(t), call('doc_get', { id }));
        expect(result).toMatchObject({ isError: true, error: { code: 'invalid_arguments' } });
      }
      expect(server.received.length).toBe(before);
      const fine = await port.invoke(authFor(t), call('doc_get', { id: 'a..b' }));
      expect((JSON.parse(fine.output) as ReceivedRequest).url).toBe('/echo/docs/a..b/raw');
    });

    it('sends the arguments of a POST HTTP tool as its JSON body', async () => {
      const { port, addHttpTool, server } = await factory();
      const t = tenant();
      await addHttpTool(t, 'create_ticket', {
        description: 'Opens a ticket',
        parameters: {
          type: 'object',
          properties: { queue: { type: 'string' }, title: { type: 'string', maxLength: 20 } },
          required: ['queue', 'title'],
        },
        http: { method: 'POST', url: `${server.url}/echo/queues/{queue}/tickets` },
      });
      const seen = JSON.parse(
        (await port.invoke(authFor(t), call('create_ticket', { queue: 'q1', title: 'Printer' }))).output,
      ) as ReceivedRequest;
      expect(seen).toMatchObject({
        method: 'POST',
        url: '/echo/queues/q1/tickets',
        body: '{"title":"Printer"}',
      });
      expect(seen.headers['content-type']).toBe('application/json');
    });

    it('returns invalid_arguments without calling an HTTP tool whose arguments break its schema', async () => {
      const { port, addHttpTool, server } = await factory();
      const t = tenant();
      await addHttpTool(t, 'strict_tool', {
        description: 'Strict',
        parameters: {
          type: 'object',
          properties: { n: { type: 'integer', minimum: 1 } },
          required: ['n'],
          additionalProperties: false,
        },
        http: { method: 'GET', url: `${server.url}/echo/strict` },
      });
      const before = server.received.length;
      for (const args of [{ n: 0 }, { n: 'one' }, {}, { n: 1, extra: true }]) {
        expect(await port.invoke(authFor(t), call('strict_tool', args))).toMatchObject({
          isError: true,
          error: { code: 'invalid_arguments', retryable: false },
        });
      }
      expect(server.received.length).toBe(before);
      expect((await port.invoke(authFor(t), call('strict_tool', { n: 2 }))).isError).toBe(false);
    });

    it('returns http_error with the status (retryable for 5xx and 429) and response_too_large past the limit', async () => {
      const { port, addHttpTool, server } = await factory();
      const t = tenant();
      const tool = (path: string, extra: Record<string, unknown> = {}) => ({
        description: 'x',
        http: { method: 'GET', url: `${server.url}${path}` },
        ...extra,
      });
      await addHttpTool(t, 'down', tool('/status/503'));
      await addHttpTool(t, 'limited', tool('/status/429'));
      await addHttpTool(t, 'refuses', tool('/status/400'));
      await addHttpTool(t, 'big', tool('/big', { max_response_bytes: 1024 }));
      expect(await port.invoke(authFor(t), call('down', {}))).toMatchObject({
        isError: true,
        error: { code: 'http_error', status: 503, retryable: true },
      });
      expect((await port.invoke(authFor(t), call('limited', {}))).error).toMatchObject({
        status: 429,
        retryable: true,
      });
      expect((await port.invoke(authFor(t), call('refuses', {}))).error).toMatchObject({
        status: 400,
        retryable: false,
      });
      expect((await port.invoke(authFor(t), call('big', {}))).error).toMatchObject({
        code: 'response_too_large',
      });
    });

    it('returns an error result when an HTTP tool’s secret is missing, and never reads another tenant’s', async () => {
      const { port, addHttpTool, setSecret, server } = await factory();
      const a = tenant();
      const b = tenant();
      await setSecret(a, 'key', 'secret-of-a');
      await addHttpTool(b, 'uses_key', {
        description: 'x',
        http: { method: 'GET', url: `${server.url}/echo`, credentials: { secret: 'key' } },
      });
      const result = await port.invoke(authFor(b), call('uses_key', {}));
      expect(result).toMatchObject({ isError: true, error: { code: 'failed', retryable: false } });
      expect(result.output).not.toContain('secret-of-a');
    });

    it('fetches an allowed URL with http_fetch and refuses a private one with blocked_destination', async () => {
      const { port, server } = await factory();
      const t = tenant();
      const fetched = await port.invoke(authFor(t), call('http_fetch', { url: `${server.url}/echo/page` }));
      expect(fetched.isError).toBe(false);
      expect(JSON.parse(fetched.output)).toMatchObject({ status: 200, content_type: 'application/json' });
      expect(await port.invoke(authFor(t), call('http_fetch', { url: 'http://127.0.0.1:1/' }))).toMatchObject(
        {
          isError: true,
          error: { code: 'blocked_destination' },
        },
      );
      expect(
        await port.invoke(
          authFor(t),
          call('http_fetch', { url: 'http://169.254.169.254/latest/meta-data/' }),
        ),
      ).toMatchObject({
        error: { code: 'blocked_destination' },
      });
    });
  });
}
