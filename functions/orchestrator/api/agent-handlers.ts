import { randomBytes } from 'node:crypto';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import { InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import type { FieldIssue } from '../../shared/errors/agentos-error.ts';
import type { AgentDefinition, AgentRegistryPort } from '../ports/agent-registry-port.ts';
import type { ToolRegistryPort } from '../ports/tool-registry-port.ts';
import type { AgentSpec } from '../schemas/agent.ts';
import { builtinToolIds } from '../schemas/tool.ts';
import type { agentRoutes } from './agent-api.ts';

/** What the agents API is built on. */
export type AgentHandlerDeps = {
  agents: AgentRegistryPort;
  /** To check that an agent's `tool_ids` name tools the tenant has. */
  tools: ToolRegistryPort;
  /** The id of an agent created without one. */
  newAgentId?: () => string;
};

/** Default page size of the lists. */
export const defaultListLimit = 20;

/** A model of the Model Policy catalog (`provider/model-id`) or a tier (`tier:name`), as the catalog spells them. */
const modelRefPattern =
  /^(tier:[a-z0-9][a-z0-9_-]{0,62}|[a-z0-9][a-z0-9._-]{0,62}\/[A-Za-z0-9._:/@+-]{1,200})$/;

const builtins: readonly string[] = builtinToolIds;

/** A node-chosen agent id: `agt_` and 20 random hex digits. */
export function newAgentId(): string {
  return `agt_${randomBytes(10).toString('hex')}`;
}

/**
 * Refuses a spec that names what cannot exist for the tenant (HLD §5.2 tool allow-list): a
 * malformed `model_ref`, or tool ids that are neither built-ins nor the tenant's HTTP tools.
 */
async function checkAgentSpec(auth: AuthContext, spec: AgentSpec, tools: ToolRegistryPort): Promise<void> {
  const issues: FieldIssue[] = [];
  if (!modelRefPattern.test(spec.model_ref))
    issues.push({
      field: 'model_ref',
      message: 'must be a catalog model such as `local/scripted` or a tier such as `tier:fast`',
    });
  const unknown = await Promise.all(
    spec.tool_ids.map(async (toolId, index) =>
      builtins.includes(toolId) || (await tools.get(auth, toolId)) !== undefined ? [] : [{ toolId, index }],
    ),
  );
  for (const { toolId, index } of unknown.flat())
    issues.push({
      field: `tool_ids.${index}`,
      message: `"${toolId}" is neither a built-in tool nor one of this tenant's tools`,
    });
  const first = issues[0];
  if (first !== undefined)
    throw new InvalidRequestError(`Invalid agent: ${first.field} ${first.message}`, issues);
}

/** The version an `If-Match` header names; undefined for `*` or no header. */
function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  return Number(/\d+/.exec(header)?.[0]);
}

function etagOf(agent: AgentDefinition): string {
  return `"${agent.version}"`;
}

/** The handlers of the agents API (agent-api.ts). */
export function agentHandlers({
  agents,
  tools,
  newAgentId: nextId = newAgentId,
}: AgentHandlerDeps): RouteHandlers<typeof agentRoutes> {
  return {
    async createAgent({ auth, body }) {
      const { agent_id: requested, ...spec } = body;
      await checkAgentSpec(auth, spec, tools);
      const agent = await agents.create(auth, requested ?? nextId(), spec);
      return {
        status: 201,
        headers: { location: `/v1/agents/${agent.agent_id}`, etag: etagOf(agent) },
        json: agent,
      };
    },

    async listAgents({ auth, query }) {
      const page = await agents.list(auth, {
        limit: query.limit ?? defaultListLimit,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return { status: 200, json: { object: 'list', data: page.agents, next_cursor: page.nextCursor } };
    },

    async getAgent({ auth, params }) {
      const agent = await agents.get(auth, params.agent_id);
      if (agent === undefined) throw new NotFoundError(`Agent ${params.agent_id} not found`);
      return { status: 200, headers: { etag: etagOf(agent) }, json: agent };
    },

    async updateAgent({ auth, params, body, headers }) {
      const { expected_version: inBody, ...spec } = body;
      const inHeader = ifMatchVersion(headers['if-match']);
      if (inBody !== undefined && inHeader !== undefined && inBody !== inHeader)
        throw new InvalidRequestError('If-Match and expected_version name different versions', [
          { field: 'expected_version', message: `is ${inBody} but If-Match names ${inHeader}` },
        ]);
      if ((await agents.get(auth, params.agent_id)) === undefined)
        throw new NotFoundError(`Agent ${params.agent_id} not found`);
      await checkAgentSpec(auth, spec, tools);
      const agent = await agents.update(auth, params.agent_id, spec, inBody ?? inHeader);
      return { status: 200, headers: { etag: etagOf(agent) }, json: agent };
    },

    async deleteAgent({ auth, params }) {
      await agents.delete(auth, params.agent_id);
      return { status: 204, json: undefined };
    },

    async getAgentVersion({ auth, params }) {
      const agent = await agents.getVersion(auth, params.agent_id, params.version);
      if (agent === undefined)
        throw new NotFoundError(`Agent ${params.agent_id} has no version ${params.version}`);
      return { status: 200, json: agent };
    },
  };
}
