import { Readable } from 'node:stream';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { Tenant } from '../../shared/tenancy/tenant-schemas.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunEvent } from '../schemas/event.ts';
import type { RunStatus } from '../schemas/run.ts';
import type { RunEventHub } from './run-event-hub.ts';
import { followRunEvents } from './run-event-stream.ts';
import type { EventStreamTiming } from './run-event-stream.ts';
import type { StreamSlot, StreamSlots } from './stream-slots.ts';

/** What every event stream of a run is built on. */
export type RunStreamDeps = {
  runs: RunStatePort;
  timing: EventStreamTiming;
  hub: RunEventHub;
  streamSlots?: StreamSlots;
};

/**
 * Takes one of the tenant's stream slots across the node and one of this process, or throws the
 * 429 `openRunStream` would. A route that creates a run and streams it takes the slot first, so a
 * refusal never follows a run it created (the client would retry and create another).
 */
export async function takeStreamSlot(
  deps: RunStreamDeps,
  tenant: Tenant | undefined,
  tenantId: string,
): Promise<StreamSlot | undefined> {
  deps.hub.assertRoom(tenantId);
  return tenant === undefined ? undefined : await deps.streamSlots?.open(tenant);
}

/**
 * Opens a run's event stream after `after`: takes a stream slot of the tenant across the node and
 * one of this process (429 before the response starts when none is free), subscribes to the run's
 * shared reader and follows it until the terminal event. Both the run events API and A2A stream
 * through here, so they replay and resume alike; `prefix` frames go out first.
 */
export async function openRunStream(
  deps: RunStreamDeps,
  request: {
    auth: AuthContext;
    tenant: Tenant | undefined;
    runId: string;
    after: number;
    lastSequence: number;
    initialStatus: RunStatus;
    signal: AbortSignal;
    format?: (event: RunEvent) => string;
    prefix?: string[];
    /** A slot taken beforehand with `takeStreamSlot` (the stream closes it); absent, one is taken here. */
    slot?: StreamSlot | undefined;
  },
): Promise<Readable> {
  const { auth, tenant, runId, after, signal } = request;
  const slot = 'slot' in request ? request.slot : await takeStreamSlot(deps, tenant, auth.tenant_id);
  let shared: ReturnType<RunEventHub['subscribe']>;
  try {
    // A cursor past the run's end would start the run's shared reader beyond every event.
    shared = deps.hub.subscribe(auth, runId, Math.min(after, request.lastSequence));
  } catch (error) {
    await slot?.close();
    throw error;
  }
  const subscription = {
    tail: shared.tail,
    close: () => {
      shared.close();
      void slot?.close();
    },
  };
  // Closed when the client goes away or the response ends, even if the stream never started.
  if (signal.aborted) subscription.close();
  else signal.addEventListener('abort', () => subscription.close(), { once: true });
  const events = followRunEvents({
    runs: deps.runs,
    subscription,
    auth,
    runId,
    after,
    initialStatus: request.initialStatus,
    timing: deps.timing,
    signal,
    ...(request.format === undefined ? {} : { format: request.format }),
  });
  const prefix = request.prefix ?? [];
  return Readable.from(
    (async function* () {
      yield* prefix;
      yield* events;
    })(),
  );
}

/** The headers of a server-sent events answer. */
export const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};
