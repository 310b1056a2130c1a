import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { AgentDefinitionSchema, AgentSpecSchema, CreateAgentRequestSchema } from '../schemas/agent.ts';
import { AgentIdSchema } from '../schemas/run.ts';

/**
 * The agents API (HLD §3.1 AgentRegistry, §2.1 product-facing API): a tenant's agents, each update
 * a new immutable version that runs keep. Declared once; handlers in agent-handlers.ts.
 */

/** `limit` and `cursor` of every list of this API. */
export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).optional().describe('Largest page (default 20).'),
  cursor: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('`next_cursor` of the previous page (opaque); a malformed one is 400 invalid_request.'),
});

export const AgentListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z.array(AgentDefinitionSchema).describe('The current version of each agent, ordered by agent id.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'AgentList' });

export const UpdateAgentRequestSchema = AgentSpecSchema.extend({
  expected_version: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Only replace the agent if this is its current version (else 409); same as `If-Match`.'),
}).meta({ id: 'UpdateAgentRequest' });

const AgentPathSchema = z.strictObject({
  agent_id: AgentIdSchema.describe('The agent id; a malformed id is answered like an unknown agent (404).'),
});

const AgentVersionPathSchema = AgentPathSchema.extend({
  version: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .describe('A version number (1, 2, …).'),
});

/** `If-Match` values: a version as an entity tag (`"3"`, `W/"3"`, `3`) or `*`. */
export const ifMatch: HeaderSpec = {
  name: 'If-Match',
  required: false,
  description:
    'Replace only if the agent is at this version: its `ETag` (`"3"`); 409 conflict when it moved on. ' +
    '`*` (or no header) replaces whatever version is current.',
  schema: z
    .string()
    .regex(/^(\*|(W\/)?"?\d{1,15}"?)$/, 'must be an agent version as an entity tag, e.g. "3"'),
};

const etag: HeaderSpec = {
  name: 'ETag',
  required: true,
  description: 'The version, as an entity tag (`"3"`): send it back in `If-Match` to update safely.',
};

const agentErrors = {
  404: {
    description: 'not_found: no such agent for this tenant (another tenant’s agent is never revealed).',
  },
  503: { description: 'dependency_unavailable: agent storage could not be reached; retry.' },
};

const invalidAgent = {
  description:
    'invalid_request: malformed JSON, an unknown or invalid field, a malformed `model_ref`, or a tool id that is ' +
    'neither a built-in nor one of the tenant’s tools (`details.fields` names it).',
};

const agentContent = { 'application/json': { schema: AgentDefinitionSchema } };

export const createAgent = defineRoute({
  operationId: 'createAgent',
  method: 'POST',
  path: '/v1/agents',
  scope: scopes.agentsWrite,
  tags: ['Agents'],
  summary: 'Create an agent',
  description:
    'Stores version 1 of a new agent. `agent_id` is chosen by the node (`agt_…`) when absent; the id of a deleted ' +
    'agent may be used again, continuing its version numbers.',
  request: { body: CreateAgentRequestSchema },
  responses: {
    201: {
      description: 'The agent was created.',
      headers: [{ name: 'Location', required: true, description: 'The agent: /v1/agents/{agent_id}.' }, etag],
      content: agentContent,
    },
    400: invalidAgent,
    409: { description: 'conflict: an agent with this id exists.' },
    503: agentErrors[503],
  },
});

export const listAgents = defineRoute({
  operationId: 'listAgents',
  method: 'GET',
  path: '/v1/agents',
  scope: scopes.agentsRead,
  tags: ['Agents'],
  summary: 'List the tenant’s agents',
  request: { query: ListQuerySchema },
  responses: {
    200: { description: 'A page of agents.', content: { 'application/json': { schema: AgentListSchema } } },
    400: { description: 'invalid_request: an invalid `limit` or `cursor`.' },
    503: agentErrors[503],
  },
});

export const getAgent = defineRoute({
  operationId: 'getAgent',
  method: 'GET',
  path: '/v1/agents/{agent_id}',
  scope: scopes.agentsRead,
  tags: ['Agents'],
  summary: 'Read an agent’s current version',
  request: { params: AgentPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The current version.', headers: [etag], content: agentContent },
    ...agentErrors,
  },
});

export const updateAgent = defineRoute({
  operationId: 'updateAgent',
  method: 'PUT',
  path: '/v1/agents/{agent_id}',
  scope: scopes.agentsWrite,
  tags: ['Agents'],
  summary: 'Replace an agent with a new version',
  description:
    'Stores the body as the next version, which new runs use; runs already started keep theirs. Fields left out ' +
    'take their defaults (this is a replacement, not a patch). With `If-Match` or `expected_version`, only if the ' +
    'agent is still at that version.',
  request: {
    params: AgentPathSchema,
    invalidParams: 'not_found',
    body: UpdateAgentRequestSchema,
    headers: [ifMatch],
  },
  responses: {
    200: { description: 'The new version.', headers: [etag], content: agentContent },
    400: invalidAgent,
    409: {
      description: 'conflict: the agent is no longer at the expected version (or changed concurrently).',
    },
    ...agentErrors,
  },
});

export const deleteAgent = defineRoute({
  operationId: 'deleteAgent',
  method: 'DELETE',
  path: '/v1/agents/{agent_id}',
  scope: scopes.agentsWrite,
  tags: ['Agents'],
  summary: 'Delete an agent',
  description:
    'New runs can no longer use it; its versions stay readable (`/versions/{version}`) for the runs that used them.',
  request: { params: AgentPathSchema, invalidParams: 'not_found' },
  responses: { 204: { description: 'The agent was deleted.' }, ...agentErrors },
});

export const getAgentVersion = defineRoute({
  operationId: 'getAgentVersion',
  method: 'GET',
  path: '/v1/agents/{agent_id}/versions/{version}',
  scope: scopes.agentsRead,
  tags: ['Agents'],
  summary: 'Read one version of an agent',
  description: 'Versions never change, and stay readable after the agent is deleted.',
  request: { params: AgentVersionPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The version.', content: agentContent },
    ...agentErrors,
    404: { description: 'not_found: no such agent or version for this tenant.' },
  },
});

/** The agents routes, in document order. */
export const agentRoutes = [
  createAgent,
  listAgents,
  getAgent,
  updateAgent,
  deleteAgent,
  getAgentVersion,
] as const;
