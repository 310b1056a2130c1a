import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import { NotFoundError } from '../../functions/shared/errors/agentos-error.ts';
import type { MemoryHit, MemoryPort } from '../../functions/orchestrator/ports/memory-port.ts';
import type { ToolRegistryPort } from '../../functions/orchestrator/ports/tool-registry-port.ts';
import type { HttpTool, ToolSpec } from '../../functions/orchestrator/schemas/tool.ts';

/** A request the test server received. */
export type ReceivedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: string };

/**
 * A local HTTP server for tool tests: `/echo…` answers 200 with JSON of the request, `/status/<n>`
 * answers status n, `/big` answers 256 KiB, `/slow` never answers, `/redirect?to=<url>` answers 302.
 */
export async function startToolTestServer(): Promise<{
  url: string;
  port: number;
  received: ReceivedRequest[];
  close(): Promise<void>;
}> {
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      const path = new URL(request.url, 'http://x');
      if (path.pathname.startsWith('/status/')) {
        res.writeHead(Number(path.pathname.slice('/status/'.length)), { 'content-type': 'text/plain' });
        res.end('upstream says no');
      } else if (path.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(256 * 1024));
      } else if (path.pathname === '/slow') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
      } else if (path.pathname === '/redirect') {
        res.writeHead(302, { location: path.searchParams.get('to') ?? '/' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(request));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tenant's HTTP tools in a map: the registry double of the tool tests. */
export class MapToolRegistry implements ToolRegistryPort {
  readonly #tools = new Map<string, HttpTool>();

  async get(auth: AuthContext, toolId: string): Promise<HttpTool | undefined> {
    const tool = this.#tools.get(`${auth.tenant_id}/${toolId}`);
    return tool === undefined ? undefined : structuredClone(tool);
  }

  async list(auth: AuthContext): Promise<{ tools: HttpTool[]; nextCursor: string | null }> {
    const tools = [...this.#tools.entries()]
      .filter(([key]) => key.startsWith(`${auth.tenant_id}/`))
      .map(([, t]) => t);
    return { tools: structuredClone(tools), nextCursor: null };
  }

  async create(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    const at = '2026-01-01T00:00:00.000Z';
    const tool: HttpTool = {
      ...structuredClone(spec),
      object: 'tool',
      kind: 'http',
      tool_id: toolId,
      version: 1,
      created_at: at,
      updated_at: at,
    };
    this.#tools.set(`${auth.tenant_id}/${toolId}`, tool);
    return structuredClone(tool);
  }

  async update(auth: AuthContext, toolId: string, spec: ToolSpec): Promise<HttpTool> {
    await this.delete(auth, toolId);
    return this.create(auth, toolId, spec);
  }

  async delete(auth: AuthContext, toolId: string): Promise<void> {
    if (!this.#tools.delete(`${auth.tenant_id}/${toolId}`))
      throw new NotFoundError(`Tool ${toolId} not found`);
  }
}

/**
 * A memory store with a plain term-count search standing in for the memory slice's BM25 search
 * where the store has none yet; every other call goes to `store`.
 */
export function withSearch(store: Omit<MemoryPort, 'search' | 'list'> & Partial<MemoryPort>): MemoryPort {
  const keys = new Map<string, Set<string>>();
  return {
    get: (auth, namespace, key) => store.get(auth, namespace, key),
    delete: (auth, namespace, key) => store.delete(auth, namespace, key),
    put: async (auth, namespace, key, value) => {
      const entry = await store.put(auth, namespace, key, value);
      const id = `${auth.tenant_id}/${namespace}`;
      keys.set(id, (keys.get(id) ?? new Set()).add(key));
      return entry;
    },
    list: async () => ({ entries: [], nextCursor: null }),
    search: async (auth, namespace, query, options) => {
      if (store.search !== undefined) return store.search(auth, namespace, query, options);
      const terms = query
        .toLowerCase()
        .split(/\W+/)
        .filter((t) => t !== '');
      const hits: MemoryHit[] = [];
      for (const key of keys.get(`${auth.tenant_id}/${namespace}`) ?? []) {
        const entry = await store.get(auth, namespace, key);
        if (entry === undefined) continue;
        const words = `${entry.key} ${entry.value}`.toLowerCase().split(/\W+/);
        const score = terms.reduce((sum, term) => sum + words.filter((w) => w === term).length, 0);
        if (score > 0) hits.push({ entry, score });
      }
      return hits.sort((a, b) => b.score - a.score).slice(0, options.limit);
    },
  };
}
