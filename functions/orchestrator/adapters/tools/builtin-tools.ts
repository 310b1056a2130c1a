import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { AgentOsError } from '../../../shared/errors/agentos-error.ts';
import { OutboundRequestError } from '../../../shared/net/safe-fetch.ts';
import type { SafeFetch } from '../../../shared/net/safe-fetch.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';
import { toolErrorResult } from '../../ports/tool-port.ts';
import type { ToolInvocation, ToolResult } from '../../ports/tool-port.ts';
import { builtinToolIds } from '../../schemas/tool.ts';
import type { BuiltinTool as BuiltinToolView, BuiltinToolId } from '../../schemas/tool.ts';

/** What a built-in tool may use while it runs. */
export type BuiltinToolContext = {
  auth: AuthContext;
  memory: MemoryPort;
  fetch: SafeFetch;
  call: ToolInvocation;
};

/** A tool implemented inside AgentOS itself; `run` gets arguments already checked against `parameters`. */
export type BuiltinTool = {
  description: string;
  parameters: Record<string, unknown>;
  run(args: Record<string, unknown>, context: BuiltinToolContext): Promise<ToolResult>;
};

/** The most an `http_fetch` response body may hold. */
export const httpFetchMaxResponseBytes = 64 * 1024;

/** The longest a `wait` may pause a `long` run: a day. */
export const maxWaitSeconds = 86_400;

const ok = (output: string): ToolResult => ({ output, isError: false });

const textParameters = {
  type: 'object',
  properties: { text: { type: 'string', maxLength: 65_536 } },
  required: ['text'],
  additionalProperties: false,
};

const keyProperty = { type: 'string', minLength: 1, maxLength: 256 };

/** A memory failure is the tool's error result: refused input goes back to the model, an outage may be retried. */
async function memoryCall(work: () => Promise<ToolResult>): Promise<ToolResult> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AgentOsError && error.code === 'invalid_request') {
      return toolErrorResult('invalid_arguments', error.message);
    }
    if (error instanceof AgentOsError && error.code === 'dependency_unavailable') {
      return toolErrorResult('failed', 'Memory is unavailable for now', { retryable: true });
    }
    throw error;
  }
}

const memoryGet: BuiltinTool = {
  description:
    "Returns the value stored under a key in the agent's memory, or an empty string when there is none.",
  parameters: {
    type: 'object',
    properties: { key: keyProperty },
    required: ['key'],
    additionalProperties: false,
  },
  run: (args, { auth, memory, call }) =>
    memoryCall(async () =>
      ok((await memory.get(auth, call.memoryNamespace, String(args['key'])))?.value ?? ''),
    ),
};

const memoryPut: BuiltinTool = {
  description: "Stores a value under a key in the agent's memory (replacing what the key held).",
  parameters: {
    type: 'object',
    properties: { key: keyProperty, value: { type: 'string' } },
    required: ['key', 'value'],
    additionalProperties: false,
  },
  run: (args, { auth, memory, call }) =>
    memoryCall(async () => {
      await memory.put(auth, call.memoryNamespace, String(args['key']), String(args['value']));
      return ok(`stored ${String(args['key'])}`);
    }),
};

/** Tools every node ships, available to every tenant's agents that name them (HLD §3.1). */
export const builtinTools: Record<BuiltinToolId, BuiltinTool> = {
  echo: {
    description: 'Returns the given text unchanged.',
    parameters: textParameters,
    run: async (args) => ok(String(args['text'])),
  },
  word_count: {
    description: 'Counts the words in the given text.',
    parameters: textParameters,
    run: async (args) =>
      ok(
        String(
          String(args['text'])
            .split(/\s+/)
            .filter((w) => w.length > 0).length,
        ),
      ),
  },
  memory_get: memoryGet,
  memory_put: memoryPut,
  memory_search: {
    description:
      "Searches the agent's memory for entries relevant to a query (ranked, best first); returns a JSON list of " +
      '{key, value, score}.',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: 1024 },
        limit: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
      },
      required: ['query'],
      additionalProperties: false,
    },
    run: (args, { auth, memory, call }) =>
      memoryCall(async () => {
        const limit = typeof args['limit'] === 'number' ? args['limit'] : 5;
        const hits = await memory.search(auth, call.memoryNamespace, String(args['query']), { limit });
        return ok(
          JSON.stringify(
            hits.map((hit) => ({ key: hit.entry.key, value: hit.entry.value, score: hit.score })),
          ),
        );
      }),
  },
  http_fetch: {
    description:
      `Fetches a public http(s) URL (GET, or POST with a text body); returns JSON {status, content_type, body}. ` +
      `Bodies over ${httpFetchMaxResponseBytes} bytes are refused; private and local addresses are refused.`,
    parameters: {
      type: 'object',
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 2048 },
        method: { type: 'string', enum: ['GET', 'POST'], default: 'GET' },
        body: { type: 'string', maxLength: 65_536 },
        content_type: { type: 'string', maxLength: 128 },
      },
      required: ['url'],
      additionalProperties: false,
    },
    run: async (args, { fetch, call }) => {
      const method = args['method'] === 'POST' ? 'POST' : 'GET';
      const body = method === 'POST' && typeof args['body'] === 'string' ? args['body'] : undefined;
      try {
        const response = await fetch({
          method,
          url: String(args['url']),
          headers: {
            accept: 'text/*, application/json;q=0.9, */*;q=0.1',
            ...(body === undefined
              ? {}
              : {
                  'content-type':
                    typeof args['content_type'] === 'string' ? args['content_type'] : 'text/plain',
                }),
          },
          ...(body === undefined ? {} : { body }),
          timeoutMs: call.timeoutMs,
          maxResponseBytes: httpFetchMaxResponseBytes,
          ...(call.signal === undefined ? {} : { signal: call.signal }),
        });
        const text = response.body.toString('utf8');
        if (response.status < 200 || response.status > 299) {
          return toolErrorResult('http_error', `HTTP ${response.status}: ${text.slice(0, 1024)}`, {
            status: response.status,
          });
        }
        return ok(
          JSON.stringify({
            status: response.status,
            content_type: response.headers['content-type'] ?? null,
            body: text,
          }),
        );
      } catch (error) {
        if (error instanceof OutboundRequestError) return toolErrorResult(error.code, error.message);
        throw error;
      }
    },
  },
  wait: {
    description:
      'Pauses the run for the given number of seconds before its next step (long-running agents only; ' +
      `at most ${maxWaitSeconds}).`,
    parameters: {
      type: 'object',
      properties: { seconds: { type: 'integer', minimum: 1, maximum: maxWaitSeconds } },
      required: ['seconds'],
      additionalProperties: false,
    },
    run: async (args) => {
      const seconds = Number(args['seconds']);
      return {
        output: `The run pauses ${seconds} s before its next step`,
        isError: false,
        suspendSeconds: seconds,
      };
    },
  },
};

/**
 * Names older nodes registered per tenant for built-ins (`builtin:` registrations of earlier seeds):
 * an agent listing one keeps the tool, under that name.
 */
export const legacyBuiltinAliases: Readonly<Record<string, BuiltinToolId>> = {
  remember: 'memory_put',
  recall: 'memory_get',
};

/** The built-in serving `name` (its own id or a legacy alias), if any. */
export function builtinFor(name: string): BuiltinTool | undefined {
  if (Object.hasOwn(builtinTools, name)) return builtinTools[name as BuiltinToolId];
  const alias = Object.hasOwn(legacyBuiltinAliases, name) ? legacyBuiltinAliases[name] : undefined;
  return alias === undefined ? undefined : builtinTools[alias];
}

/** The built-ins as the tools API lists them. */
export function builtinToolViews(): BuiltinToolView[] {
  return builtinToolIds.map((id) => ({
    object: 'tool',
    kind: 'builtin',
    tool_id: id,
    description: builtinTools[id].description,
    parameters: builtinTools[id].parameters,
  }));
}
