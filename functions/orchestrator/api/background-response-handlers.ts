import type { RouteHandler, RouteInput, RouteResult } from '../../shared/http/bound-route.ts';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../shared/errors/agentos-error.ts';
import { openRunStream, sseHeaders, takeStreamSlot } from '../events/open-run-stream.ts';
import type { StreamSlot } from '../events/stream-slots.ts';
import type { RunStreamDeps } from '../events/open-run-stream.ts';
import type { EventsUrlMinter } from '../events/stream-token.ts';
import type { RunService } from '../runtime/run-service.ts';
import { runIdOf } from '../schemas/background-response.ts';
import type { CreateBackgroundResponseRequest, InputMessage } from '../schemas/background-response.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { CreateRunRequest, Run } from '../schemas/run.ts';
import type {
  cancelBackgroundResponse,
  createBackgroundResponse,
  retrieveBackgroundResponse,
} from './background-response-api.ts';
import { responseEventFrame, responseEventMapper, runToResponse } from './background-response-mapping.ts';

/** What the background response handlers are built on: the run service and the run event streams. */
export type BackgroundResponseHandlerDeps = RunStreamDeps & {
  service: RunService;
  /** Mints the absolute, token-carrying `events_url` of a run. */
  eventsUrl: EventsUrlMinter;
};

type RunMessage = CreateRunRequest['input']['messages'][number];

function textOf(content: InputMessage['content']): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('\n');
}

/** The run a background response request asks for: instructions first, then the input messages. */
function runRequestOf(body: CreateBackgroundResponseRequest): CreateRunRequest {
  if (!body.background) {
    throw new InvalidRequestError(
      'background: only background responses are served here (set background: true); the run goes on after the answer',
      [{ field: 'background', message: 'must be true' }],
    );
  }
  const messages: RunMessage[] = [];
  if (body.instructions !== undefined) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
  else {
    for (const item of body.input) {
      const content = textOf(item.content);
      messages.push(item.role === 'user' ? { role: 'user', content } : { role: 'system', content });
    }
  }
  if (messages.length > 100) {
    throw new InvalidRequestError('input: at most 100 messages, instructions included', [
      { field: 'input', message: 'too many messages' },
    ]);
  }
  return {
    agent_id: body.model,
    input: { messages },
    ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
  };
}

/**
 * The handlers of the background response routes (background-response-api.ts): each calls the run
 * service, answers the run as a response, and streams through the same code as GET
 * /v1/runs/{run_id}/events, so streams replay and resume alike.
 */
export function backgroundResponseHandlers(deps: BackgroundResponseHandlerDeps): {
  createBackgroundResponse: RouteHandler<typeof createBackgroundResponse>;
  retrieveBackgroundResponse: RouteHandler<typeof retrieveBackgroundResponse>;
  cancelBackgroundResponse: RouteHandler<typeof cancelBackgroundResponse>;
} {
  const { service } = deps;

  /** The run a response id names; an id naming no run, or another tenant's or member's, is not found alike. */
  async function runOf(
    input: { auth: RouteInput<typeof retrieveBackgroundResponse>['auth'] },
    responseId: string,
  ) {
    const runId = runIdOf(responseId);
    if (runId === undefined) throw new NotFoundError(`response ${responseId} was not found`);
    try {
      return await service.getRun(input.auth, runId);
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError(`response ${responseId} was not found`);
      throw error;
    }
  }

  /** The response's typed events after `startingAfter`, derived from the run's events from its first. */
  async function stream(
    input: RouteInput<typeof retrieveBackgroundResponse> | RouteInput<typeof createBackgroundResponse>,
    run: Run,
    startingAfter: number | undefined,
    held?: { slot: StreamSlot | undefined },
  ): Promise<RouteResult> {
    // The path, not a freshly minted URL, so a replayed event is byte for byte the one sent before.
    const toEvents = responseEventMapper(run, `/v1/runs/${run.run_id}/events`);
    const skipThrough = startingAfter ?? -1;
    const format = (event: RunEvent) =>
      toEvents(event)
        .filter((typed) => typed.sequence_number > skipThrough)
        .map(responseEventFrame)
        .join('');
    const events = await openRunStream(deps, {
      auth: input.auth,
      tenant: input.tenant,
      runId: run.run_id,
      after: 0,
      lastSequence: run.last_sequence,
      initialStatus: run.status,
      signal: input.signal,
      format,
      ...(held === undefined ? {} : { slot: held.slot }),
    });
    return { status: 200, headers: sseHeaders, stream: events };
  }

  return {
    async createBackgroundResponse(input) {
      const { auth, tenant, body, headers, url } = input;
      const request = runRequestOf(body);
      if (body.stream === true) {
        // The stream slot first: a 429 for want of one must not follow a run already created.
        const slot = await takeStreamSlot(deps, tenant, auth.tenant_id);
        let created: Run;
        try {
          ({ run: created } = await service.createRun(auth, request, headers['idempotency-key'], tenant));
        } catch (error) {
          await slot?.close();
          throw error;
        }
        return stream(input, created, undefined, { slot });
      }
      const { run, replayed } = await service.createRun(auth, request, headers['idempotency-key'], tenant);
      return {
        status: 200,
        headers: replayed ? { 'idempotent-replayed': 'true' } : {},
        json: runToResponse(run, await deps.eventsUrl(auth, run.run_id, url)),
      };
    },

    async retrieveBackgroundResponse(input) {
      const run = await runOf(input, input.params.response_id);
      if (input.query.stream === 'true') return stream(input, run, input.query.starting_after);
      return {
        status: 200,
        json: runToResponse(run, await deps.eventsUrl(input.auth, run.run_id, input.url)),
      };
    },

    async cancelBackgroundResponse(input) {
      const { auth, tenant, url } = input;
      const run = await runOf(input, input.params.response_id);
      let after: Run;
      try {
        after = await service.cancelRun(auth, run.run_id, tenant);
      } catch (error) {
        // A run that has already ended is answered as it ended.
        if (!(error instanceof ConflictError)) throw error;
        after = await service.getRun(auth, run.run_id);
      }
      return { status: 200, json: runToResponse(after, await deps.eventsUrl(auth, after.run_id, url)) };
    },
  };
}
