import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { MemoryPort } from '../../functions/orchestrator/ports/memory-port.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: 'p', type: 'user' },
  scopes: [],
  policy_context: {},
});

/** The behaviour every MemoryPort adapter must have. */
export function memoryPortConformance(name: string, factory: () => Promise<MemoryPort>): void {
  describe(`MemoryPort conformance: ${name}`, () => {
    const tenant = () => `m${crypto.randomUUID().slice(0, 8)}`;

    it('returns what was put, and undefined after delete', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await port.put(auth, 'notes', 'greeting / with: any key', 'hello');
      expect(await port.get(auth, 'notes', 'greeting / with: any key')).toMatchObject({
        key: 'greeting / with: any key',
        value: 'hello',
      });
      await port.put(auth, 'notes', 'greeting / with: any key', 'hello again');
      expect((await port.get(auth, 'notes', 'greeting / with: any key'))?.value).toBe('hello again');
      await port.delete(auth, 'notes', 'greeting / with: any key');
      expect(await port.get(auth, 'notes', 'greeting / with: any key')).toBeUndefined();
    });

    it('keeps tenants and namespaces apart', async () => {
      const port = await factory();
      const a = authFor(tenant());
      const b = authFor(tenant());
      await port.put(a, 'notes', 'k', 'for a');
      expect(await port.get(b, 'notes', 'k')).toBeUndefined();
      expect(await port.get(a, 'other', 'k')).toBeUndefined();
    });

    it('keeps what it stores apart from the entries callers get back', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      const put = await port.put(auth, 'notes', 'k', 'original');
      put.value = 'changed by the caller';
      const got = await port.get(auth, 'notes', 'k');
      expect(got).toEqual({ namespace: 'notes', key: 'k', value: 'original', updated_at: put.updated_at });
      got!.value = 'changed by the caller';
      expect((await port.get(auth, 'notes', 'k'))?.value).toBe('original');
    });

    it('throws when a namespace is invalid or a value is too large', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await expect(port.put(auth, '../escape', 'k', 'v')).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(port.put(auth, 'notes', 'k', 'x'.repeat(65 * 1024))).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });
  });
}
