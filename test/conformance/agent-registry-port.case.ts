import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { AgentRegistryPort } from '../../functions/orchestrator/ports/agent-registry-port.ts';
import { AgentSpecSchema } from '../../functions/orchestrator/schemas/agent.ts';
import type { AgentSpec } from '../../functions/orchestrator/schemas/agent.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: `admin-${tenant}`, type: 'user' },
  scopes: [],
  policy_context: {},
});

/** An agent spec with the schema's defaults, as the API hands it to the registry. */
export function agentSpec(changes: Partial<AgentSpec> = {}): AgentSpec {
  return AgentSpecSchema.parse({
    name: 'Helper',
    model_ref: 'local/scripted',
    instructions: 'Be brief.',
    tool_ids: ['echo'],
    ...changes,
  });
}

/** The behaviour every AgentRegistryPort adapter must have (HLD §3.1 AgentRegistry). */
export function agentRegistryPortConformance(name: string, factory: () => Promise<AgentRegistryPort>): void {
  describe(`AgentRegistryPort conformance: ${name}`, () => {
    const tenant = () => `a${crypto.randomUUID().slice(0, 8)}`;

    it('returns version 1 of a created agent, by get and by getVersion', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const created = await port.create(auth, 'helper', agentSpec());
      expect(created).toMatchObject({
        object: 'agent',
        agent_id: 'helper',
        version: 1,
        name: 'Helper',
        instructions: 'Be brief.',
        max_steps: 10,
        run_mode: 'standard',
      });
      expect(await port.get(auth, 'helper')).toEqual(created);
      expect(await port.getVersion(auth, 'helper', 1)).toEqual(created);
      expect(await port.getVersion(auth, 'helper', 2)).toBeUndefined();
      expect(await port.get(auth, 'nobody')).toBeUndefined();
    });

    it('throws ConflictError when the id is taken', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'helper', agentSpec());
      await expect(port.create(auth, 'helper', agentSpec({ name: 'Other' }))).rejects.toMatchObject({
        code: 'conflict',
      });
      expect((await port.get(auth, 'helper'))?.name).toBe('Helper');
    });

    it('keeps every version when updated, and moves the current one', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const first = await port.create(auth, 'helper', agentSpec());
      const second = await port.update(auth, 'helper', agentSpec({ instructions: 'Be thorough.' }));
      expect(second).toMatchObject({
        version: 2,
        instructions: 'Be thorough.',
        created_at: first.created_at,
      });
      const third = await port.update(auth, 'helper', agentSpec({ max_steps: 3 }), 2);
      expect(third.version).toBe(3);
      expect(await port.get(auth, 'helper')).toEqual(third);
      expect(await port.getVersion(auth, 'helper', 1)).toEqual(first);
      expect(await port.getVersion(auth, 'helper', 2)).toEqual(second);
    });

    it('throws ConflictError when the expected version is not the current one', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'helper', agentSpec());
      await port.update(auth, 'helper', agentSpec({ name: 'Second' }));
      await expect(port.update(auth, 'helper', agentSpec({ name: 'Stale' }), 1)).rejects.toMatchObject({
        code: 'conflict',
      });
      expect((await port.get(auth, 'helper'))?.name).toBe('Second');
    });

    it('lets exactly one of two concurrent updates of the same version win', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'helper', agentSpec());
      const results = await Promise.allSettled([
        port.update(auth, 'helper', agentSpec({ name: 'A' }), 1),
        port.update(auth, 'helper', agentSpec({ name: 'B' }), 1),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
      const current = await port.get(auth, 'helper');
      expect(current?.version).toBe(2);
      expect(current?.name).toBe((won[0] as PromiseFulfilledResult<{ name: string }>).value.name);
    });

    it('applies concurrent updates without an expected version one after the other', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.create(auth, 'helper', agentSpec());
      const results = await Promise.allSettled([
        port.update(auth, 'helper', agentSpec({ name: 'A' })),
        port.update(auth, 'helper', agentSpec({ name: 'B' })),
      ]);
      const versions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version] : []));
      expect(versions.sort()).toEqual([2, 3]);
      expect((await port.get(auth, 'helper'))?.version).toBe(3);
    });

    it('keeps the versions of a deleted agent, and continues them when the id is created again', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const first = await port.create(auth, 'helper', agentSpec());
      await port.update(auth, 'helper', agentSpec({ name: 'Second' }));
      await port.delete(auth, 'helper');
      expect(await port.get(auth, 'helper')).toBeUndefined();
      expect(await port.getVersion(auth, 'helper', 1)).toEqual(first);
      expect((await port.getVersion(auth, 'helper', 2))?.name).toBe('Second');
      await expect(port.update(auth, 'helper', agentSpec())).rejects.toMatchObject({ code: 'not_found' });
      await expect(port.delete(auth, 'helper')).rejects.toMatchObject({ code: 'not_found' });
      const again = await port.create(auth, 'helper', agentSpec({ name: 'Reborn' }));
      expect(again.version).toBe(3);
      expect(await port.get(auth, 'helper')).toEqual(again);
      expect(await port.getVersion(auth, 'helper', 1)).toEqual(first);
    });

    it('throws NotFoundError when updating or deleting an agent that never existed', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await expect(port.update(auth, 'ghost', agentSpec())).rejects.toMatchObject({ code: 'not_found' });
      await expect(port.delete(auth, 'ghost')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('lists the current agents by id, a page at a time, without deleted ones', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      for (const id of ['delta', 'alpha', 'echo-agent', 'charlie', 'bravo'])
        await port.create(auth, id, agentSpec());
      await port.update(auth, 'charlie', agentSpec({ name: 'Charlie v2' }));
      await port.delete(auth, 'delta');
      const first = await port.list(auth, { limit: 2 });
      expect(first.agents.map((a) => a.agent_id)).toEqual(['alpha', 'bravo']);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await port.list(auth, { limit: 2, cursor: first.nextCursor! });
      expect(second.agents.map((a) => [a.agent_id, a.version])).toEqual([
        ['charlie', 2],
        ['echo-agent', 1],
      ]);
      expect(second.nextCursor).toBeNull();
      expect((await port.list(auth, { limit: 10 })).nextCursor).toBeNull();
    });

    it('throws invalid_request naming the cursor when it is malformed', async () => {
      const port = await factory();
      await expect(port.list(authFor(tenant()), { limit: 5, cursor: 'not a cursor!' })).rejects.toMatchObject(
        {
          code: 'invalid_request',
          details: { fields: [expect.objectContaining({ field: 'cursor' })] },
        },
      );
    });

    it('keeps tenants apart', async () => {
      const port = await factory();
      const a = authFor(tenant());
      const b = authFor(tenant());
      await port.create(a, 'helper', agentSpec());
      expect(await port.get(b, 'helper')).toBeUndefined();
      expect(await port.getVersion(b, 'helper', 1)).toBeUndefined();
      expect((await port.list(b, { limit: 10 })).agents).toEqual([]);
      await expect(port.update(b, 'helper', agentSpec())).rejects.toMatchObject({ code: 'not_found' });
      await expect(port.delete(b, 'helper')).rejects.toMatchObject({ code: 'not_found' });
      const own = await port.create(b, 'helper', agentSpec({ name: 'B’s own' }));
      expect(own.version).toBe(1);
      expect((await port.get(a, 'helper'))?.name).toBe('Helper');
    });

    it('keeps what it stores apart from the definitions callers get back', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const created = await port.create(auth, 'helper', agentSpec());
      created.tool_ids.push('changed_by_caller');
      const got = await port.get(auth, 'helper');
      expect(got?.tool_ids).toEqual(['echo']);
      got!.tool_ids.push('changed_by_caller');
      expect((await port.getVersion(auth, 'helper', 1))?.tool_ids).toEqual(['echo']);
    });
  });
}
