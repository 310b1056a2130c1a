import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { InvalidRequestError, UnsupportedMediaTypeError } from '../../shared/errors/agentos-error.ts';
import { AgentIdSchema } from '../schemas/run.ts';

/**
 * The A2A endpoint of each agent (A2A protocol v0.3, JSON-RPC binding): its agent card, and one
 * JSON-RPC endpoint whose methods act on runs. Declared once here; a2a-handlers.ts dispatches by
 * method. Agents are the tenant's: the caller's token names the tenant.
 */

/** Largest accepted JSON-RPC request. */
export const maxA2aRequestBytes = 128 * 1024;

const AgentPathSchema = z.strictObject({
  agent_id: AgentIdSchema.describe('The agent; a malformed id is answered like an unknown agent (404).'),
});

const JsonRpcIdSchema = z.union([z.string(), z.number().int(), z.null()]);

/** A JSON-RPC 2.0 request, no more members; a body that is not one is answered with error -32600. */
export const JsonRpcRequestSchema = z
  .strictObject({
    jsonrpc: z.literal('2.0'),
    id: JsonRpcIdSchema.optional(),
    method: z.string().min(1).max(200),
    params: z.unknown().optional(),
  })
  .meta({ id: 'A2aJsonRpcRequest' });

/** A JSON-RPC 2.0 response: `result` on success, else `error`. */
export const JsonRpcResponseSchema = z
  .looseObject({
    jsonrpc: z.literal('2.0'),
    id: JsonRpcIdSchema,
    result: z.unknown().optional(),
    error: z
      .looseObject({ code: z.number().int(), message: z.string(), data: z.unknown().optional() })
      .optional(),
  })
  .meta({ id: 'A2aJsonRpcResponse' });

/** The agent card (A2A v0.3 `AgentCard`). */
export const AgentCardSchema = z
  .looseObject({
    protocolVersion: z.string(),
    name: z.string(),
    description: z.string(),
    url: z.string(),
    preferredTransport: z.string(),
    version: z.string(),
    capabilities: z.looseObject({ streaming: z.boolean(), pushNotifications: z.boolean() }),
    defaultInputModes: z.array(z.string()),
    defaultOutputModes: z.array(z.string()),
    skills: z.array(z.looseObject({ id: z.string(), name: z.string(), description: z.string() })),
    securitySchemes: z.record(z.string(), z.unknown()),
    security: z.array(z.record(z.string(), z.array(z.string()))),
    signatures: z
      .array(z.looseObject({ protected: z.string(), signature: z.string() }))
      .optional()
      .describe(
        'The node’s JWS over the card’s RFC 8785 canonical JSON without `signatures` (detached payload); the ' +
          'protected header’s `jku` names the node’s JWKS and `kid` the key.',
      ),
  })
  .meta({ id: 'A2aAgentCard' });

/** JSON-RPC 2.0's own error codes and A2A's (A2A v0.3 §8). */
export const jsonRpcErrors = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  taskNotFound: -32001,
  taskNotCancelable: -32002,
  pushNotificationNotSupported: -32003,
} as const;

/** A JSON-RPC error response. */
export function jsonRpcError(id: string | number | null, code: number, message: string) {
  return { jsonrpc: '2.0' as const, id, error: { code, message } };
}

/**
 * A body the core refused is a JSON-RPC error, with HTTP 200 as JSON-RPC over HTTP answers: not
 * JSON is -32700, JSON that is not a request -32600. Other refusals keep the error envelope.
 */
function jsonRpcRefusal(error: unknown) {
  if (!(error instanceof InvalidRequestError) && !(error instanceof UnsupportedMediaTypeError))
    return undefined;
  const fields = (error.details['fields'] ?? []) as { message?: string }[];
  const malformed = fields.some(
    (field) => field.message === 'malformed JSON' || field.message === 'invalid UTF-8',
  );
  return {
    status: 200,
    json: jsonRpcError(
      null,
      malformed ? jsonRpcErrors.parseError : jsonRpcErrors.invalidRequest,
      malformed ? 'Parse error' : `Invalid Request: ${error.message}`,
    ),
  };
}

const lastEventId: HeaderSpec = {
  name: 'Last-Event-ID',
  required: false,
  description:
    '`tasks/resubscribe` only: the `id:` of the last status update the client has; the stream goes on after it.',
  schema: z.string().regex(/^\d+$/, 'must be an event sequence'),
  emptyMeansAbsent: true,
};

export const getA2aAgentCard = defineRoute({
  operationId: 'getA2aAgentCard',
  method: 'GET',
  path: '/v1/a2a/{agent_id}/.well-known/agent-card.json',
  scope: scopes.runsRead,
  tags: ['A2A'],
  summary: 'The A2A agent card of an agent',
  description:
    'Names the agent, its one skill, its JSON-RPC endpoint (`url`) and the bearer JWT it takes. Once the node ' +
    'has a signing key the card carries `signatures`: a detached JWS over the RFC 8785 canonical form of the ' +
    'card as served without `signatures`, whose `jku` names the node’s published keys.',
  request: { params: AgentPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The card.', content: { 'application/json': { schema: AgentCardSchema } } },
    404: { description: 'not_found: the agent does not exist for this tenant.' },
    503: { description: 'dependency_unavailable: the agent registry could not be reached; retry.' },
  },
});

export const a2aJsonRpc = defineRoute({
  operationId: 'a2aJsonRpc',
  method: 'POST',
  path: '/v1/a2a/{agent_id}',
  scope: scopes.runsRead,
  tags: ['A2A'],
  summary: 'A2A JSON-RPC: send a message to an agent, read, cancel or follow its task',
  description:
    'Methods: `message/send` (runs the agent on the message’s text parts; the `messageId` is the run’s ' +
    'idempotency key, so a retried send returns the same task; with `configuration.blocking` the answer waits, ' +
    'up to a deadline, for the run to end), `message/stream` (the same, answered as server-sent events), ' +
    '`tasks/get`, `tasks/cancel` and `tasks/resubscribe` (the task’s status updates replayed from its stored ' +
    'events, after `Last-Event-ID`). A task is a run: its id is the run id. `message/send`, `message/stream` ' +
    'and `tasks/cancel` need `runs:write` besides `runs:read`. Errors are JSON-RPC errors with HTTP 200: ' +
    '-32700 parse error, -32600 invalid request, -32601 unknown method, -32602 invalid params, -32001 task not ' +
    'found (another tenant’s task too), -32002 task not cancelable, -32003 push notifications unsupported. ' +
    'Authentication, scope, rate-limit and availability failures keep the HTTP error envelope.',
  request: {
    params: AgentPathSchema,
    invalidParams: 'not_found',
    body: JsonRpcRequestSchema,
    maxBodyBytes: maxA2aRequestBytes,
    headers: [lastEventId],
  },
  responses: {
    200: {
      description: 'The JSON-RPC response, or for the streaming methods a stream of them.',
      content: {
        'application/json': { schema: JsonRpcResponseSchema },
        'text/event-stream': {
          schema: JsonRpcResponseSchema,
          sse: {
            id: 'The run event’s sequence (status updates only; the opening task carries none).',
            data: 'One JSON-RPC response: the task first, then one `status-update` per run event, the last `final`.',
            retry: 'A reconnection delay hint in milliseconds.',
            comments: '`: keep-alive` when nothing else was sent for 15 seconds.',
            resume: 'Call `tasks/resubscribe` with Last-Event-ID to get exactly the rest.',
          },
        },
      },
    },
    403: { description: 'forbidden: the method needs `runs:write`.' },
    404: { description: 'not_found: the agent does not exist for this tenant.' },
    429: { description: 'rate_limited: as for POST /v1/runs and the run event streams.' },
    503: { description: 'dependency_unavailable: storage could not be reached; retry.' },
  },
  errorAnswer: jsonRpcRefusal,
});

/** The A2A routes, in document order. */
export const a2aRoutes = [getA2aAgentCard, a2aJsonRpc] as const;
