import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { MemorySearchBounds } from '../../functions/orchestrator/memory/namespace.ts';
import type { MemoryEntry, MemoryPort } from '../../functions/orchestrator/ports/memory-port.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: 'p', type: 'user' },
  scopes: [],
  policy_context: {},
});

/** What a conformance factory may be asked for: smaller search bounds, to reach them in a test. */
export type MemoryPortOptions = { searchBounds?: MemorySearchBounds };

/** Every entry of a namespace, page by page. */
async function listAll(port: MemoryPort, auth: AuthContext, namespace: string, limit: number) {
  const pages: MemoryEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await port.list(auth, namespace, { limit, ...(cursor === undefined ? {} : { cursor }) });
    pages.push(page.entries);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

/** The behaviour every MemoryPort adapter must have. */
export function memoryPortConformance(
  name: string,
  factory: (options?: MemoryPortOptions) => Promise<MemoryPort>,
): void {
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
      await expect(port.delete(auth, 'notes', 'never stored')).resolves.toBeUndefined();
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
      const [hit] = await port.search(auth, 'notes', 'original', { limit: 1 });
      hit!.entry.value = 'changed by the caller';
      const [listed] = (await port.list(auth, 'notes', { limit: 1 })).entries;
      expect(listed?.value).toBe('original');
    });

    it('throws when a namespace or key is invalid or a value is too large', async () => {
      const port = await factory();
      const auth = authFor(tenant());
      await expect(port.put(auth, '../escape', 'k', 'v')).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(port.put(auth, 'notes', 'k', 'x'.repeat(65 * 1024))).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(port.put(auth, 'notes', '', 'v')).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(port.put(auth, 'notes', 'k'.repeat(257), 'v')).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(port.get(auth, 'notes', '\ud800')).rejects.toMatchObject({ code: 'invalid_request' });
      await expect(port.search(auth, 'a/b', 'q', { limit: 5 })).rejects.toMatchObject({
        code: 'invalid_request',
      });
      await expect(port.list(auth, '', { limit: 5 })).rejects.toMatchObject({ code: 'invalid_request' });
      // 256 characters (some outside the BMP) and exactly 64 KiB are fine.
      await port.put(auth, 'notes', '🔑'.repeat(256), 'x'.repeat(64 * 1024));
      expect((await port.get(auth, 'notes', '🔑'.repeat(256)))?.value).toHaveLength(64 * 1024);
    });

    describe('search', () => {
      it('returns matching entries ranked by BM25 over key and value, best first, without the others', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        await port.put(auth, 'kb', 'weather-monday', 'The weather was sunny on Monday');
        await port.put(auth, 'kb', 'weather-tuesday', 'The weather was rainy on Tuesday');
        await port.put(auth, 'kb', 'zebra', 'A zebra crossed the road');
        await port.put(auth, 'kb', 'unrelated', 'Nothing to see');
        const hits = await port.search(auth, 'kb', 'Weather ZEBRA', { limit: 10 });
        expect(hits.map((hit) => hit.entry.key)).toEqual(['zebra', 'weather-monday', 'weather-tuesday']);
        expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
        expect(hits[1]!.score).toBe(hits[2]!.score);
        expect(hits[0]!.entry).toMatchObject({
          namespace: 'kb',
          key: 'zebra',
          value: 'A zebra crossed the road',
        });
      });

      it('returns at most the limit, and nothing for no match, an empty query or an empty namespace', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        for (const key of ['a', 'b', 'c', 'd']) await port.put(auth, 'kb', key, 'common words here');
        expect((await port.search(auth, 'kb', 'common', { limit: 2 })).map((hit) => hit.entry.key)).toEqual([
          'a',
          'b',
        ]);
        expect(await port.search(auth, 'kb', 'absent', { limit: 10 })).toEqual([]);
        expect(await port.search(auth, 'kb', '?!', { limit: 10 })).toEqual([]);
        expect(await port.search(auth, 'empty', 'common', { limit: 10 })).toEqual([]);
      });

      it('returns what is stored now: updated values re-ranked, deleted entries gone', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        await port.put(auth, 'kb', 'k1', 'apples');
        await port.put(auth, 'kb', 'k2', 'pears');
        await port.put(auth, 'kb', 'k1', 'bananas');
        await port.delete(auth, 'kb', 'k2');
        expect(await port.search(auth, 'kb', 'apples pears', { limit: 10 })).toEqual([]);
        expect(
          (await port.search(auth, 'kb', 'bananas', { limit: 10 })).map((hit) => hit.entry.value),
        ).toEqual(['bananas']);
      });

      it('throws conflict, naming the bound, when the namespace is larger than one search reads', async () => {
        const port = await factory({ searchBounds: { maxEntries: 3, maxBytes: 1024 } });
        const auth = authFor(tenant());
        for (const key of ['a', 'b', 'c']) await port.put(auth, 'kb', key, 'word');
        expect(await port.search(auth, 'kb', 'word', { limit: 10 })).toHaveLength(3);
        await port.put(auth, 'kb', 'd', 'word');
        await expect(port.search(auth, 'kb', 'word', { limit: 10 })).rejects.toMatchObject({
          code: 'conflict',
          details: { max_entries: 3, max_bytes: 1024 },
        });
        await port.put(auth, 'bytes', 'big', 'x'.repeat(1100));
        await expect(port.search(auth, 'bytes', 'x', { limit: 10 })).rejects.toMatchObject({
          code: 'conflict',
        });
        // The namespace stays listable, so it can be cleaned up.
        expect((await listAll(port, auth, 'kb', 2)).flat()).toHaveLength(4);
      });
    });

    describe('list', () => {
      it('returns every entry once across pages, then a null cursor', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        const keys = Array.from({ length: 7 }, (_, i) => `key-${i}`);
        for (const key of keys) await port.put(auth, 'notes', key, `value of ${key}`);
        const pages = await listAll(port, auth, 'notes', 3);
        expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
        expect(
          pages
            .flat()
            .map((entry) => entry.key)
            .sort(),
        ).toEqual(keys);
        expect(pages.flat()[0]).toMatchObject({
          namespace: 'notes',
          value: expect.stringMatching(/^value of /),
        });
        const whole = await port.list(auth, 'notes', { limit: 7 });
        expect(whole.nextCursor).toBeNull();
        expect(whole.entries.map((entry) => entry.key)).toEqual(pages.flat().map((entry) => entry.key));
        expect(await port.list(auth, 'empty', { limit: 5 })).toEqual({ entries: [], nextCursor: null });
      });

      it('returns each remaining entry once when entries change between pages', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
        for (const key of keys) await port.put(auth, 'notes', key, 'v');
        const first = await port.list(auth, 'notes', { limit: 3 });
        const firstKeys = first.entries.map((entry) => entry.key);
        await port.delete(auth, 'notes', firstKeys[0]!);
        await port.put(auth, 'notes', firstKeys[1]!, 'updated');
        await port.put(auth, 'notes', 'added later', 'v');
        const rest = (await port.list(auth, 'notes', { limit: 10, cursor: first.nextCursor! })).entries.map(
          (entry) => entry.key,
        );
        expect(rest.filter((key) => firstKeys.includes(key))).toEqual([]);
        expect(rest.filter((key) => key !== 'added later').sort()).toEqual(
          keys.filter((key) => !firstKeys.includes(key)),
        );
      });

      it('returns fewer entries than the limit when they would not fit in one answer, then the rest', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        // 70 entries of 60 KiB: about 4.2 MB, more than one page or search answer carries.
        const value = `needle ${'hay '.repeat(15 * 1024)}`;
        for (let i = 0; i < 70; i += 1) await port.put(auth, 'big', `k${String(i).padStart(2, '0')}`, value);
        const first = await port.list(auth, 'big', { limit: 100 });
        expect(first.entries.length).toBeLessThan(70);
        expect(first.entries.length).toBeGreaterThan(60);
        expect(first.nextCursor).not.toBeNull();
        const rest = await port.list(auth, 'big', { limit: 100, cursor: first.nextCursor! });
        expect(first.entries.length + rest.entries.length).toBe(70);
        expect(rest.nextCursor).toBeNull();
        const hits = await port.search(auth, 'big', 'needle', { limit: 100 });
        expect(hits.length).toBe(first.entries.length);
        expect(hits[0]!.entry.key).toBe('k00');
      });

      it('throws invalid_request for a cursor it did not make', async () => {
        const port = await factory();
        const auth = authFor(tenant());
        for (const cursor of ['not-a-cursor', Buffer.from('{"s":-1,"k":""}').toString('base64url'), '%%%']) {
          await expect(port.list(auth, 'notes', { limit: 5, cursor })).rejects.toMatchObject({
            code: 'invalid_request',
          });
        }
      });
    });

    describe('isolation between tenants', () => {
      it('never returns, ranks, lists or deletes another tenant’s entries', async () => {
        const port = await factory();
        const a = authFor(tenant());
        const b = authFor(tenant());
        await port.put(a, 'shared', 'secret', 'launch codes alpha bravo');
        await port.put(a, 'shared', 'other', 'alpha alpha alpha');
        expect(await port.get(b, 'shared', 'secret')).toBeUndefined();
        expect(await port.search(b, 'shared', 'launch codes alpha bravo secret', { limit: 100 })).toEqual([]);
        expect(await port.list(b, 'shared', { limit: 100 })).toEqual({ entries: [], nextCursor: null });
        await port.delete(b, 'shared', 'secret');
        expect((await port.get(a, 'shared', 'secret'))?.value).toBe('launch codes alpha bravo');
        // B's own entries do not change A's statistics or answers either.
        await port.put(b, 'shared', 'decoy', 'alpha');
        expect((await port.search(a, 'shared', 'alpha', { limit: 10 })).map((hit) => hit.entry.key)).toEqual([
          'other',
          'secret',
        ]);
        expect((await port.search(b, 'shared', 'alpha', { limit: 10 })).map((hit) => hit.entry.key)).toEqual([
          'decoy',
        ]);
      });

      it('keeps the same namespace and key in two tenants separate', async () => {
        const port = await factory();
        const a = authFor(tenant());
        const b = authFor(tenant());
        await port.put(a, 'notes', 'same', 'value of a');
        await port.put(b, 'notes', 'same', 'value of b');
        expect((await port.get(a, 'notes', 'same'))?.value).toBe('value of a');
        expect((await port.get(b, 'notes', 'same'))?.value).toBe('value of b');
        await port.delete(b, 'notes', 'same');
        expect((await port.get(a, 'notes', 'same'))?.value).toBe('value of a');
        expect((await port.list(a, 'notes', { limit: 10 })).entries.map((entry) => entry.value)).toEqual([
          'value of a',
        ]);
      });

      it('treats keys and namespaces that look like storage keys as plain names in the caller’s tenant', async () => {
        const port = await factory();
        const victim = tenant();
        const a = authFor(victim);
        const b = authFor(tenant());
        await port.put(a, 'notes', 'k', 'victim data');
        const lookalikes = [
          `tenant/${victim}/memory/notes`,
          `../../${victim}/memory/notes/k`,
          `tenant/${victim}/memory/notes/k`,
          'k\u0000',
          'K',
        ];
        for (const key of lookalikes) {
          expect(await port.get(b, 'notes', key)).toBeUndefined();
          await port.put(b, 'notes', key, 'attacker data');
          await port.delete(b, 'notes', key);
        }
        await port.put(b, '..', 'k', 'dots');
        await port.delete(b, '..', 'k');
        expect(await port.get(a, 'notes', 'k')).toMatchObject({ value: 'victim data' });
        expect(await port.get(a, '..', 'k')).toBeUndefined();
        expect((await port.list(a, 'notes', { limit: 10 })).entries.map((entry) => entry.key)).toEqual(['k']);
      });

      it('reads only the caller’s namespace with a cursor taken from another tenant', async () => {
        const port = await factory();
        const a = authFor(tenant());
        const b = authFor(tenant());
        for (let i = 0; i < 4; i += 1) await port.put(a, 'notes', `a${i}`, 'a');
        for (let i = 0; i < 4; i += 1) await port.put(b, 'notes', `b${i}`, 'b');
        const pageOfA = await port.list(a, 'notes', { limit: 1 });
        const pages: MemoryEntry[] = [];
        let cursor: string | null = pageOfA.nextCursor;
        while (cursor !== null) {
          const page = await port.list(b, 'notes', { limit: 2, cursor });
          pages.push(...page.entries);
          cursor = page.nextCursor;
        }
        expect(pages.every((entry) => entry.key.startsWith('b'))).toBe(true);
      });
    });
  });
}
