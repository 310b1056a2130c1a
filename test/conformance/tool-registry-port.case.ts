import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { ToolRegistryPort } from '../../functions/orchestrator/ports/tool-registry-port.ts';
import { ToolSpecSchema } from '../../functions/orchestrator/schemas/tool.ts';
import type { ToolSpec } from '../../functions/orchestrator/schemas/tool.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: `admin-${tenant}`, type: 'user' },
  scopes: [],
  policy_context: {},
});

/** A valid HTTP tool spec with the schema's defaults, changed as given (raw input, parsed). */
export function toolSpec(changes: Record<string, unknown> = {}): ToolSpec {
  return ToolSpecSchema.parse({
    description: 'Looks up the weather of a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', minLength: 1 }, units: { enum: ['metric', 'imperial'] } },
      required: ['city'],
      additionalProperties: false,
    },
    http: {
      method: 'GET',
      url: 'https://weather.example.com/v1/cities/{city}',
      headers: { Accept: 'application/json' },
      credentials: { secret: 'weather-api-key' },
    },
    ...changes,
  });
}

function nested(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 1; i < depth; i++) schema = { type: 'object', properties: { x: schema } };
  return schema;
}

/** The behaviour every ToolRegistryPort adapter must have (HLD §3.1 ToolPort's registry, §10.1). */
export function toolRegistryPortConformance(name: string, factory: () => Promise<ToolRegistryPort>): void {
  describe(`ToolRegistryPort conformance: ${name}`, () => {
    const tenant = () => `t${crypto.randomUUID().slice(0, 8)}`;

    it('returns a created tool as version 1, and version + 1 after each update', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const created = await port.create(auth, 'weather', toolSpec());
      expect(created).toMatchObject({
        object: 'tool',
        kind: 'http',
        tool_id: 'weather',
        version: 1,
        timeout_ms: 10_000,
        http: { method: 'GET', credentials: { secret: 'weather-api-key', header: 'Authorization' } },
      });
      expect(await port.get(auth, 'weather')).toEqual(created);
      const updated = await port.update(auth, 'weather', toolSpec({ description: 'Weather, v2.' }));
      expect(updated).toMatchObject({
        version: 2,
        description: 'Weather, v2.',
        created_at: created.created_at,
      });
      expect(await port.get(auth, 'weather')).toEqual(updated);
    });

    it('throws ConflictError when the id is taken, NotFoundError when it is absent', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'weather', toolSpec());
      await expect(port.create(auth, 'weather', toolSpec())).rejects.toMatchObject({ code: 'conflict' });
      await expect(port.update(auth, 'ghost', toolSpec())).rejects.toMatchObject({ code: 'not_found' });
      await expect(port.delete(auth, 'ghost')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('deletes a tool, after which its id may be used again', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'weather', toolSpec());
      await port.delete(auth, 'weather');
      expect(await port.get(auth, 'weather')).toBeUndefined();
      expect((await port.list(auth, { limit: 10 })).tools).toEqual([]);
      expect((await port.create(auth, 'weather', toolSpec())).version).toBe(1);
    });

    it('lists tools by id a page at a time', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      for (const id of ['c_tool', 'a_tool', 'b_tool']) await port.create(auth, id, toolSpec());
      const first = await port.list(auth, { limit: 2 });
      expect(first.tools.map((t) => t.tool_id)).toEqual(['a_tool', 'b_tool']);
      const rest = await port.list(auth, { limit: 2, cursor: first.nextCursor! });
      expect(rest.tools.map((t) => t.tool_id)).toEqual(['c_tool']);
      expect(rest.nextCursor).toBeNull();
      await expect(port.list(auth, { limit: 2, cursor: '%%%' })).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });

    it('keeps tenants apart', async () => {
      const port = await factory();
      const a = authFor(tenant());
      const b = authFor(tenant());
      await port.create(a, 'weather', toolSpec());
      expect(await port.get(b, 'weather')).toBeUndefined();
      expect((await port.list(b, { limit: 10 })).tools).toEqual([]);
      await expect(port.update(b, 'weather', toolSpec())).rejects.toMatchObject({ code: 'not_found' });
      await expect(port.delete(b, 'weather')).rejects.toMatchObject({ code: 'not_found' });
      expect(await port.get(a, 'weather')).toBeDefined();
    });

    it('throws invalid_request naming tool_id when the id is a built-in’s', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      for (const id of ['echo', 'http_fetch', 'memory_search', 'wait', 'recall']) {
        await expect(port.create(auth, id, toolSpec())).rejects.toMatchObject({
          code: 'invalid_request',
          details: { fields: [expect.objectContaining({ field: 'tool_id' })] },
        });
      }
    });

    const refused: [string, Record<string, unknown>, string][] = [
      ['a root type other than object', { parameters: { type: 'string' } }, 'parameters.type'],
      ['no root type', { parameters: { properties: {} } }, 'parameters.type'],
      [
        'a schema that does not compile',
        { parameters: { type: 'object', properties: { a: { type: 'strnig' } } } },
        'parameters',
      ],
      [
        'an unresolvable $ref',
        { parameters: { type: 'object', properties: { a: { $ref: 'https://evil.example/s' } } } },
        'parameters',
      ],
      [
        'a schema over 32 KiB',
        { parameters: { type: 'object', description: 'x'.repeat(33 * 1024) } },
        'parameters',
      ],
      [
        'a schema deeper than 32 levels',
        { parameters: { type: 'object', properties: { a: nested(40) } } },
        'parameters',
      ],
      [
        'a placeholder that is not a parameter',
        { http: { method: 'GET', url: 'https://x.example/{town}' } },
        'http.url',
      ],
      ['a non-http URL', { http: { method: 'GET', url: 'file:///etc/passwd' } }, 'http.url'],
      ['a relative URL', { http: { method: 'GET', url: '/v1/{city}' } }, 'http.url'],
      [
        'a placeholder in the host',
        { http: { method: 'GET', url: 'https://{city}.example.com/' } },
        'http.url',
      ],
      [
        'a placeholder as the host of a URL without slashes',
        { http: { method: 'GET', url: 'https:{city}/v1' } },
        'http.url',
      ],
      [
        'a placeholder as the host behind a backslash',
        { http: { method: 'GET', url: 'https:\\\\{city}/v1' } },
        'http.url',
      ],
      [
        'a placeholder that ends the host',
        { http: { method: 'GET', url: 'https://x.example{city}' } },
        'http.url',
      ],
      [
        'credentials in the URL',
        { http: { method: 'GET', url: 'https://u:p@x.example/{city}' } },
        'http.url',
      ],
      [
        'a Host header',
        { http: { method: 'GET', url: 'https://x.example/{city}', headers: { host: 'y' } } },
        'http.headers.host',
      ],
      [
        'a Content-Length header',
        { http: { method: 'POST', url: 'https://x.example/{city}', headers: { 'Content-Length': '1' } } },
        'http.headers.Content-Length',
      ],
      [
        'the credentials header',
        {
          http: {
            method: 'GET',
            url: 'https://x.example/{city}',
            headers: { 'X-Api-Key': 'k' },
            credentials: { secret: 's', header: 'x-api-key' },
          },
        },
        'http.headers.X-Api-Key',
      ],
    ];
    it.each(refused)('throws invalid_request for %s, naming the field', async (_what, changes, field) => {
      const port = await factory();
      const auth = authFor(tenant());
      await expect(port.create(auth, 'weather', toolSpec(changes))).rejects.toMatchObject({
        code: 'invalid_request',
        details: { fields: expect.arrayContaining([expect.objectContaining({ field })]) },
      });
      expect(await port.get(auth, 'weather')).toBeUndefined();
      await port.create(auth, 'weather', toolSpec());
      await expect(port.update(auth, 'weather', toolSpec(changes))).rejects.toMatchObject({
        code: 'invalid_request',
      });
      expect((await port.get(auth, 'weather'))?.version).toBe(1);
    });
  });
}
