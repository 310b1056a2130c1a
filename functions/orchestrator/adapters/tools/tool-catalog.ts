import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { ToolDefinition } from '../../../shared/contracts/chat.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import type { SafeFetch } from '../../../shared/net/safe-fetch.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';
import { toolErrorResult } from '../../ports/tool-port.ts';
import type { ToolInvocation, ToolPort, ToolResult } from '../../ports/tool-port.ts';
import type { ToolRegistryPort } from '../../ports/tool-registry-port.ts';
import { parseToolArguments } from '../../schemas/tool-arguments-text.ts';
import type { ToolArgumentValidator } from '../../schemas/tool-arguments.ts';
import { ToolIdSchema } from '../../schemas/tool.ts';
import type { HttpTool } from '../../schemas/tool.ts';
import { builtinFor } from './builtin-tools.ts';
import { invokeHttpTool } from './http-tool.ts';
import type { ToolSecretReader } from './tool-secrets.ts';

/** A registry without tenant tools: a catalog on it serves the built-ins only. */
export const noTenantTools: ToolRegistryPort = {
  get: async () => undefined,
  list: async () => ({ tools: [], nextCursor: null }),
  create: async () => {
    throw new ConflictError('This node has no registry for tenant tools');
  },
  update: async (_auth, toolId) => {
    throw new NotFoundError(`Tool ${toolId} not found`);
  },
  delete: async (_auth, toolId) => {
    throw new NotFoundError(`Tool ${toolId} not found`);
  },
};

/** What the catalog serves tools from. */
export type ToolCatalogDeps = {
  /** The tenants' HTTP tools. */
  registry: ToolRegistryPort;
  /** The memory built-ins' store. */
  memory: MemoryPort;
  /** Outbound HTTP of `http_fetch` and HTTP tools: the SSRF-safe client. */
  fetch: SafeFetch;
  /** HTTP tools' credentials. */
  secrets: ToolSecretReader;
  /** Checks arguments against the tool's `parameters`; default: one of its own, loaded on first use. */
  validator?: ToolArgumentValidator;
};

/**
 * ToolPort of every node (HLD §3.1): the built-ins for every tenant (and the names older nodes
 * registered for them), plus the calling tenant's HTTP tools from the registry. Arguments are
 * checked against the tool's `parameters` before anything runs; every failure of a call is an error
 * result the model can react to, and only an unreachable registry throws.
 */
export class ToolCatalog implements ToolPort {
  readonly #deps: ToolCatalogDeps;
  #validator: Promise<ToolArgumentValidator> | undefined;

  constructor(deps: ToolCatalogDeps) {
    this.#deps = deps;
    this.#validator = deps.validator === undefined ? undefined : Promise.resolve(deps.validator);
  }

  /**
   * The validator, imported on the first call that checks arguments: Ajv and RE2 are most of the
   * step worker's code, and a step that calls no tool needs neither. A failed import is retried on
   * the next call instead of being remembered.
   */
  #argumentValidator(): Promise<ToolArgumentValidator> {
    return (this.#validator ??= import('../../schemas/tool-arguments.ts')
      .then((module) => new module.ToolArgumentValidator())
      .catch((error: unknown) => {
        this.#validator = undefined;
        throw error;
      }));
  }

  async describe(auth: AuthContext, toolIds: readonly string[]): Promise<ToolDefinition[]> {
    const ids = [...new Set(toolIds)];
    const found = await Promise.all(
      ids.map(async (id): Promise<ToolDefinition | undefined> => {
        const builtin = builtinFor(id);
        if (builtin !== undefined) {
          return {
            type: 'function',
            function: { name: id, description: builtin.description, parameters: builtin.parameters },
          };
        }
        const tool = await this.#httpTool(auth, id);
        return tool === undefined
          ? undefined
          : {
              type: 'function',
              function: { name: id, description: tool.description, parameters: tool.parameters },
            };
      }),
    );
    return found.filter((definition): definition is ToolDefinition => definition !== undefined);
  }

  async invoke(auth: AuthContext, call: ToolInvocation): Promise<ToolResult> {
    const builtin = builtinFor(call.name);
    const tool = builtin === undefined ? await this.#httpTool(auth, call.name) : undefined;
    if (builtin === undefined && tool === undefined) {
      return toolErrorResult('not_found', `Tool "${call.name.slice(0, 64)}" does not exist`);
    }
    const parsed = parseToolArguments(call.arguments);
    if (!parsed.ok) return toolErrorResult('invalid_arguments', parsed.message);
    const check = (await this.#argumentValidator()).check(
      builtin?.parameters ?? tool?.parameters ?? {},
      parsed.value,
    );
    if (!check.ok) return toolErrorResult('invalid_arguments', check.message);
    if (builtin !== undefined) {
      return builtin.run(parsed.value, { auth, memory: this.#deps.memory, fetch: this.#deps.fetch, call });
    }
    return invokeHttpTool(tool!, parsed.value, call, auth.tenant_id, this.#deps);
  }

  async #httpTool(auth: AuthContext, name: string): Promise<HttpTool | undefined> {
    // A model may name anything; a name that cannot be a tool id is simply not a tool.
    if (!ToolIdSchema.safeParse(name).success) return undefined;
    return this.#deps.registry.get(auth, name);
  }
}
