import { Readable } from 'node:stream';
import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { RouteHandler, RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import {
  AgentOsError,
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  NotFoundError,
} from '../../shared/errors/agentos-error.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';
import { openRunStream, sseHeaders } from '../events/open-run-stream.ts';
import { canonicalJson } from '../../shared/encoding/canonical-json.ts';
import type { DetachedSigner } from '../../shared/auth/token-issuer.ts';
import type { RunStreamDeps } from '../events/open-run-stream.ts';
import type { AgentRegistryPort } from '../ports/agent-registry-port.ts';
import { isTerminal } from '../runtime/run-state-machine.ts';
import type { RunService } from '../runtime/run-service.ts';
import type { RunEvent } from '../schemas/event.ts';
import { CreateRunRequestSchema, RunIdSchema } from '../schemas/run.ts';
import type { Run } from '../schemas/run.ts';
import type { a2aJsonRpc, getA2aAgentCard } from './a2a-api.ts';
import { jsonRpcError, jsonRpcErrors } from './a2a-api.ts';
import {
  a2aMetadataKeys,
  agentCard,
  contextIdOf,
  eventToStatusUpdate,
  runToTask,
  taskState,
} from './a2a-mapping.ts';

/** What the A2A handlers are built on: the run service and the run event streams, shared with the runs API. */
export type A2aHandlerDeps = RunStreamDeps & {
  service: RunService;
  agents: AgentRegistryPort;
  /** Where clients reach this API (the node's public URL), for the card's `url`; absent, the request's origin. */
  publicBaseUrl?: string | undefined;
  /** How long a blocking `message/send` waits for its run to end before answering with the task as it is. */
  blockingWaitMs?: number;
  /** Signs a card with the node's key (JWS, detached payload); absent, cards go out unsigned. */
  signCard?: DetachedSigner['signDetached'];
};

type JsonRpcId = string | number | null;

/** A JSON-RPC error a method answers with. */
class JsonRpcFailure extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const TextPartSchema = z.looseObject({ kind: z.literal('text'), text: z.string() });
const PartSchema = z.union([TextPartSchema, z.looseObject({ kind: z.string() })]);

const MessageSendParamsSchema = z.looseObject({
  message: z.looseObject({
    kind: z.literal('message').optional(),
    // With its `a2a:` prefix, the run's idempotency key (at most 255 characters).
    messageId: z.string().regex(/^[\x21-\x7e]{1,251}$/, 'must be 1-251 printable ASCII characters'),
    role: z.literal('user'),
    parts: z.array(PartSchema).min(1).max(100),
    contextId: z.string().max(512).optional(),
    taskId: z.string().optional(),
  }),
  configuration: z
    .looseObject({
      blocking: z.boolean().optional(),
      pushNotificationConfig: z.unknown().optional(),
    })
    .optional(),
});

const TaskIdParamsSchema = z.looseObject({ id: z.string().min(1) });

const methods = ['message/send', 'message/stream', 'tasks/get', 'tasks/cancel', 'tasks/resubscribe'] as const;
type Method = (typeof methods)[number];

function parseParams<S extends z.ZodType>(schema: S, params: unknown): z.infer<S> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined ? 'params' : ['params', ...issue.path.map(String)].join('.');
  throw new JsonRpcFailure(
    jsonRpcErrors.invalidParams,
    `Invalid params: ${where}: ${issue?.message ?? 'invalid'}`,
  );
}

function requireWrite(auth: AuthContext): void {
  if (!auth.scopes.includes(scopes.runsWrite))
    throw new ForbiddenError(`This operation requires the "${scopes.runsWrite}" scope`);
}

/** A task id that is no run id, or names another tenant's or member's run, is not found alike. */
async function loadTask(
  service: RunService,
  auth: AuthContext,
  agentId: string,
  taskId: string,
): Promise<Run> {
  const notFound = new JsonRpcFailure(jsonRpcErrors.taskNotFound, 'Task not found');
  if (!RunIdSchema.safeParse(taskId).success) throw notFound;
  try {
    const run = await service.getRun(auth, taskId);
    if (run.agent_id !== agentId) throw notFound;
    return run;
  } catch (error) {
    if (error instanceof NotFoundError) throw notFound;
    throw error;
  }
}

function sseData(payload: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(payload)}\n\n`;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    // Removed when the timer fires, so a long blocking wait does not pile listeners on the signal.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The handlers of the A2A routes (a2a-api.ts). The JSON-RPC endpoint dispatches by method; each
 * method validates its params and calls the run service, and the streaming ones stream the run's
 * events through the same code as GET /v1/runs/{run_id}/events.
 */
export function a2aHandlers(deps: A2aHandlerDeps): {
  getA2aAgentCard: RouteHandler<typeof getA2aAgentCard>;
  a2aJsonRpc: RouteHandler<typeof a2aJsonRpc>;
} {
  const { service, agents } = deps;
  const blockingWaitMs = deps.blockingWaitMs ?? 25_000;

  async function createTask(
    auth: AuthContext,
    tenant: Tenant | undefined,
    agentId: string,
    params: z.infer<typeof MessageSendParamsSchema>,
  ): Promise<Run> {
    requireWrite(auth);
    const { message, configuration } = params;
    if (
      configuration?.pushNotificationConfig !== undefined &&
      configuration.pushNotificationConfig !== null
    ) {
      throw new JsonRpcFailure(
        jsonRpcErrors.pushNotificationNotSupported,
        'Push Notification is not supported',
      );
    }
    // Each message starts a run of its own: a run takes no further input once started (HLD §3.1).
    if (message.taskId !== undefined && message.taskId !== '') {
      throw new JsonRpcFailure(
        jsonRpcErrors.invalidParams,
        'Invalid params: a message may not continue a task',
      );
    }
    const text = message.parts
      .flatMap((part) => (part.kind === 'text' && typeof part['text'] === 'string' ? [part['text']] : []))
      .join('\n');
    if (text === '') {
      throw new JsonRpcFailure(
        jsonRpcErrors.invalidParams,
        'Invalid params: params.message.parts: no text part',
      );
    }
    const contextId =
      message.contextId === undefined || message.contextId === '' ? undefined : message.contextId;
    try {
      // Checked as POST /v1/runs checks its body, so a run made over A2A is one the runs API would make.
      const request = parseParams(CreateRunRequestSchema, {
        agent_id: agentId,
        input: { messages: [{ role: 'user', content: text }] },
        metadata: {
          [a2aMetadataKeys.messageId]: message.messageId,
          ...(contextId === undefined ? {} : { [a2aMetadataKeys.contextId]: contextId }),
        },
      });
      const { run } = await service.createRun(
        auth,
        request,
        // The message id makes a retried send safe: the same message returns the same task.
        `a2a:${message.messageId}`,
        tenant,
      );
      return run;
    } catch (error) {
      // The run's input as the runs API refuses it (too long a text, say) is a fault of the params.
      if (error instanceof InvalidRequestError) {
        throw new JsonRpcFailure(jsonRpcErrors.invalidParams, `Invalid params: ${error.message}`);
      }
      if (error instanceof AgentOsError && error.code === 'idempotency_key_reused') {
        throw new JsonRpcFailure(
          jsonRpcErrors.invalidParams,
          'Invalid params: this messageId was already sent with other content',
        );
      }
      throw error;
    }
  }

  /** Waits, up to the deadline, for a run to end; answers it as it is then. */
  async function settled(auth: AuthContext, run: Run, signal: AbortSignal): Promise<Run> {
    const deadline = Date.now() + blockingWaitMs;
    let current = run;
    let delay = deps.timing.pollMinMs;
    while (!isTerminal(current.status) && Date.now() < deadline && !signal.aborted) {
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
      current = await service.getRun(auth, run.run_id);
      delay = Math.min(delay * 2, deps.timing.pollMaxMs);
    }
    return current;
  }

  async function stream(
    input: RouteInput<typeof a2aJsonRpc>,
    id: JsonRpcId,
    run: Run,
    after: number,
  ): Promise<RouteResult> {
    const contextId = contextIdOf(run);
    const format = (event: RunEvent) =>
      sseData({ jsonrpc: '2.0', id, result: eventToStatusUpdate(event, contextId) }, event.sequence);
    const opening = sseData({ jsonrpc: '2.0', id, result: runToTask(run) });
    if (isTerminal(run.status) && after >= run.last_sequence) {
      // Nothing is left to follow: the task alone says how it ended.
      return { status: 200, headers: sseHeaders, stream: Readable.from([opening]) };
    }
    const events = await openRunStream(deps, {
      auth: input.auth,
      tenant: input.tenant,
      runId: run.run_id,
      after,
      lastSequence: run.last_sequence,
      initialStatus: run.status,
      signal: input.signal,
      format,
      prefix: [opening],
    });
    return { status: 200, headers: sseHeaders, stream: events };
  }

  async function dispatch(
    input: RouteInput<typeof a2aJsonRpc>,
    id: JsonRpcId,
    method: Method,
    params: unknown,
  ): Promise<RouteResult> {
    const { auth, tenant } = input;
    const agentId = input.params.agent_id;
    const ok = (result: unknown): RouteResult => ({ status: 200, json: { jsonrpc: '2.0', id, result } });
    switch (method) {
      case 'message/send': {
        const parsed = parseParams(MessageSendParamsSchema, params);
        const run = await createTask(auth, tenant, agentId, parsed);
        const answer = parsed.configuration?.blocking === true ? await settled(auth, run, input.signal) : run;
        return ok(runToTask(answer));
      }
      case 'message/stream': {
        const run = await createTask(auth, tenant, agentId, parseParams(MessageSendParamsSchema, params));
        return stream(input, id, run, 0);
      }
      case 'tasks/get': {
        const { id: taskId } = parseParams(TaskIdParamsSchema, params);
        return ok(runToTask(await loadTask(service, auth, agentId, taskId)));
      }
      case 'tasks/cancel': {
        requireWrite(auth);
        const { id: taskId } = parseParams(TaskIdParamsSchema, params);
        const task = await loadTask(service, auth, agentId, taskId);
        // A2A: a task in any final state, canceled included, is not cancelable.
        if (isTerminal(task.status)) {
          throw new JsonRpcFailure(
            jsonRpcErrors.taskNotCancelable,
            `Task cannot be canceled: it is already ${taskState(task.status)}`,
          );
        }
        try {
          return ok(runToTask(await service.cancelRun(auth, taskId, tenant)));
        } catch (error) {
          if (error instanceof ConflictError) {
            throw new JsonRpcFailure(
              jsonRpcErrors.taskNotCancelable,
              `Task cannot be canceled: ${error.message}`,
            );
          }
          if (error instanceof NotFoundError)
            throw new JsonRpcFailure(jsonRpcErrors.taskNotFound, 'Task not found');
          throw error;
        }
      }
      case 'tasks/resubscribe': {
        const { id: taskId } = parseParams(TaskIdParamsSchema, params);
        const run = await loadTask(service, auth, agentId, taskId);
        const last = input.headers['last-event-id'];
        return stream(input, id, run, last === undefined || last === '' ? 0 : Number(last));
      }
    }
  }

  return {
    async getA2aAgentCard({ auth, params, url }) {
      const agent = await agents.get(auth, params.agent_id);
      if (agent === undefined) throw new NotFoundError(`agent_id ${params.agent_id} was not found`);
      const base = (deps.publicBaseUrl ?? url.origin).replace(/\/+$/, '');
      const endpoint = `${base}/v1/a2a/${encodeURIComponent(agent.agent_id)}`;
      const card = agentCard(agent, endpoint);
      if (deps.signCard === undefined) return { status: 200, json: card };
      // A2A v0.3 §5.5.7: a JWS over the card's RFC 8785 canonical form without `signatures`; `jku`
      // names the node's published keys to verify it with.
      const signature = await deps.signCard(canonicalJson(card), { jku: `${base}/.well-known/jwks.json` });
      return { status: 200, json: { ...card, signatures: [signature] } };
    },

    async a2aJsonRpc(input) {
      const { body } = input;
      const id: JsonRpcId = body.id ?? null;
      if (!(methods as readonly string[]).includes(body.method)) {
        return { status: 200, json: jsonRpcError(id, jsonRpcErrors.methodNotFound, 'Method not found') };
      }
      try {
        return await dispatch(input, id, body.method as Method, body.params);
      } catch (error) {
        if (error instanceof JsonRpcFailure) {
          return { status: 200, json: jsonRpcError(id, error.code, error.message) };
        }
        throw error;
      }
    },
  };
}
