import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import { NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { MemoryEntry, MemoryPort } from '../ports/memory-port.ts';
import type { MemoryEntryResource } from '../schemas/memory.ts';
import type { memoryRoutes } from './memory-api.ts';

/** Default page size of lists and searches. */
const defaultLimit = 20;

function resource(entry: MemoryEntry): MemoryEntryResource {
  return { object: 'memory_entry', ...entry };
}

function notFound(): NotFoundError {
  return new NotFoundError('No such memory entry');
}

/**
 * The handlers of the memory routes (memory-api.ts): each calls the MemoryPort with the caller's
 * Auth Context, so every read and write stays inside the caller's tenant.
 */
export function memoryHandlers({ memory }: { memory: MemoryPort }): RouteHandlers<typeof memoryRoutes> {
  return {
    async putMemoryEntry({ auth, params, body }) {
      const entry = await memory.put(auth, params.namespace, params.key, body.value);
      return { status: 200, json: resource(entry) };
    },

    async getMemoryEntry({ auth, params }) {
      const entry = await memory.get(auth, params.namespace, params.key);
      if (entry === undefined) throw notFound();
      return { status: 200, json: resource(entry) };
    },

    async deleteMemoryEntry({ auth, params }) {
      if ((await memory.get(auth, params.namespace, params.key)) === undefined) throw notFound();
      await memory.delete(auth, params.namespace, params.key);
      return { status: 204, json: undefined };
    },

    async listMemoryEntries({ auth, params, query }) {
      const page = await memory.list(auth, params.namespace, {
        limit: query.limit ?? defaultLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return {
        status: 200,
        json: { object: 'list', data: page.entries.map(resource), next_cursor: page.nextCursor },
      };
    },

    async searchMemory({ auth, params, query }) {
      const hits = await memory.search(auth, params.namespace, query.q, {
        limit: query.limit ?? defaultLimit,
      });
      return {
        status: 200,
        json: {
          object: 'list',
          data: hits.map((hit) => ({ entry: resource(hit.entry), score: hit.score })),
          next_cursor: null,
        },
      };
    },
  };
}
