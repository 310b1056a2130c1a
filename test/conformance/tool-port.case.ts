import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { ToolPort } from '../../functions/orchestrator/ports/tool-port.ts';
import { builtinTools } from '../../functions/orchestrator/adapters/tools/builtin-tools.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: 'p', type: 'user' },
  scopes: [],
  policy_context: {},
});

/**
 * A `grant` for adapters that register tools one record at a time: each id becomes the built-in
 * tool of that name.
 */
export function grantBuiltins(
  register: (
    auth: AuthContext,
    tool: { tool_id: string; description: string; implementation: string },
  ) => Promise<void>,
): ToolPortHarness['grant'] {
  return async (tenantId, toolIds) => {
    const auth = { ...authFor(tenantId), principal: { id: 'admin', type: 'user' as const } };
    for (const id of toolIds)
      await register(auth, {
        tool_id: id,
        description: builtinTools[id]?.description ?? id,
        implementation: `builtin:${id}`,
      });
  };
}

/** A ToolPort under test, with a way to give a tenant the built-in tools `echo`, `remember` and `recall`. */
export type ToolPortHarness = { port: ToolPort; grant(tenantId: string, toolIds: string[]): Promise<void> };

/** The behaviour every ToolPort adapter must have. */
export function toolPortConformance(name: string, factory: () => Promise<ToolPortHarness>): void {
  describe(`ToolPort conformance: ${name}`, () => {
    const tenant = () => `x${crypto.randomUUID().slice(0, 8)}`;
    const call = (toolName: string, args: unknown) => ({
      toolCallId: 'call_1',
      name: toolName,
      arguments: typeof args === 'string' ? args : JSON.stringify(args),
      runId: 'run_test',
    });

    it('describes only the tools granted to the tenant, in the order asked', async () => {
      const { port, grant } = await factory();
      const t = tenant();
      await grant(t, ['recall', 'echo']);
      const tools = await port.describe(authFor(t), ['echo', 'missing', 'recall']);
      expect(tools.map((tool) => tool.function.name)).toEqual(['echo', 'recall']);
      expect(tools[0]?.function.parameters).toMatchObject({ type: 'object', required: ['text'] });
      expect(await port.describe(authFor(tenant()), ['echo'])).toEqual([]);
    });

    it('returns the output of a granted tool, and an error result for tools the tenant lacks', async () => {
      const { port, grant } = await factory();
      const t = tenant();
      await grant(t, ['echo']);
      expect(await port.invoke(authFor(t), call('echo', { text: 'hi' }))).toEqual({
        output: 'hi',
        isError: false,
      });
      expect(await port.invoke(authFor(tenant()), call('echo', { text: 'hi' }))).toMatchObject({
        isError: true,
      });
    });

    it('returns error results for malformed or invalid arguments instead of throwing', async () => {
      const { port, grant } = await factory();
      const t = tenant();
      await grant(t, ['echo']);
      expect(await port.invoke(authFor(t), call('echo', '{not json'))).toEqual({
        output: 'Tool arguments are not valid JSON',
        isError: true,
      });
      const invalid = await port.invoke(authFor(t), call('echo', { txt: 'typo' }));
      expect(invalid.isError).toBe(true);
      expect(invalid.output).toContain('text');
    });

    it('keeps agent memory per tenant through remember and recall', async () => {
      const { port, grant } = await factory();
      const a = tenant();
      const b = tenant();
      await grant(a, ['remember', 'recall']);
      await grant(b, ['recall']);
      expect(await port.invoke(authFor(a), call('remember', { key: 'colour', value: 'teal' }))).toEqual({
        output: 'stored colour',
        isError: false,
      });
      expect(await port.invoke(authFor(a), call('recall', { key: 'colour' }))).toEqual({
        output: 'teal',
        isError: false,
      });
      expect(await port.invoke(authFor(b), call('recall', { key: 'colour' }))).toEqual({
        output: '',
        isError: false,
      });
    });
  });
}
