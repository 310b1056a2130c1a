import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../shared/errors/agentos-error.ts';
import { errorFromResponse } from '../../shared/errors/error-from-envelope.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { gaplessAfter } from '../events/event-order.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import type { RunStatePort } from '../ports/run-state-port.ts';
import type { RunEvent } from '../schemas/event.ts';
import { federationScopes } from './federation-scopes.ts';
import { originMetadata } from './forward-handlers.ts';
import type { PeerTokenIssuer } from './peer-tokens.ts';
import { IngestEventsResultSchema, maxIngestBatch } from './schemas/event-ingest.ts';
import { peerTenantOf } from './schemas/peer.ts';

/** Settings of {@link createEventPusher}. */
export type EventPusherOptions = {
  /** This node's id: the `iss` of its peer tokens and the `node_id` of the events it produced. */
  nodeId: string;
  runs: Pick<RunStatePort, 'getRun' | 'listEvents'>;
  peers: Pick<PeerRegistryPort, 'get'>;
  issuer: PeerTokenIssuer;
  fetch?: typeof globalThis.fetch;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts of one batch that met a network failure or a 5xx. */
  attempts?: number;
  /** Events per call, at most the receiver's `max_ingest_batch`. */
  batchSize?: number;
  /** Calls per push: a push that keeps finding more stops here; the next push goes on. */
  maxRounds?: number;
};

/** A traceparent for a call made outside any trace: a new trace (W3C Trace Context §3.2). */
export function newTraceparent(): string {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  return `00-${hex(16)}-${hex(8)}-01`;
}

/** The principal a node's replication acts as on its peers (a peer token's `sub`). */
const replicatorSubject = 'agentos-event-replicator';

/**
 * The sending side of event replication (HLD §7.4), on the node a run was forwarded to: it sends the
 * run's events to the node the run came from, starting where that node says it holds everything, so
 * a lost call, a lost answer or a push that never happened is made good by the next one. A push
 * reads the run's stored log, never what one commit happened to publish, so it loses nothing the log
 * holds.
 */
export function createEventPusher(options: EventPusherOptions) {
  const fetcher = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const attempts = options.attempts ?? 3;
  const batchSize = Math.min(options.batchSize ?? 100, maxIngestBatch);
  const maxRounds = options.maxRounds ?? 20;

  /** Sends one batch with a fresh single-use token per attempt; answers the next sequence expected. */
  async function sendBatch(
    url: string,
    origin: string,
    tenantId: string,
    traceparent: string,
    events: RunEvent[],
  ): Promise<number> {
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const token = await options.issuer.issue({
        audience: origin,
        tenantId,
        principal: replicatorSubject,
        scopes: [federationScopes.eventsIngest],
        traceparent,
      });
      let response: Response;
      try {
        response = await fetcher(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent },
          body: JSON.stringify({ source_node_id: options.nodeId, events }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (cause) {
        last = cause;
        continue;
      }
      const text = await response.text();
      if (response.status >= 500) {
        last = new Error(`origin answered ${response.status}`);
        continue;
      }
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        answer = undefined;
      }
      if (response.status !== 200) throw errorFromResponse(response.status, answer, `Node ${origin}`);
      const parsed = IngestEventsResultSchema.safeParse(answer);
      const run = parsed.success ? parsed.data.runs[0] : undefined;
      if (run === undefined)
        throw new DependencyUnavailableError(`Node ${origin} answered an ingest this node cannot read`);
      return run.contiguous_sequence;
    }
    throw new DependencyUnavailableError(
      `Node ${origin} could not take the run's events; a later push resends them`,
      {
        cause: last,
      },
    );
  }

  return {
    /**
     * Sends the run's events the origin lacks, from `after` (what this node believes the origin
     * holds; 0 sends from the start), following the origin's answer when it holds less. Nothing
     * happens for a run that was not forwarded here, or whose origin this node no longer trusts
     * for the tenant. Returns the sequence the origin holds everything up to.
     *
     * @throws DependencyUnavailableError when the origin cannot be reached after the bounded retries
     */
    async push(auth: AuthContext, runId: string, after = 0): Promise<number | undefined> {
      const run = await options.runs.getRun(auth, runId);
      const origin = run?.metadata[originMetadata.node];
      const originRunId = run?.metadata[originMetadata.run];
      if (run === undefined || origin === undefined || originRunId === undefined) return undefined;
      // Only a run the origin itself created here goes back to it: metadata alone is the caller's to
      // write, and a run this node forwarded elsewhere (a `federation` link) is a copy, never pushed on.
      if (!run.principal_id.startsWith(`peer/${origin}/`) || run.federation !== undefined) return undefined;
      const peer = await options.peers.get(origin);
      if (peer === undefined || peerTenantOf(peer, auth.tenant_id) === undefined) return undefined;
      const url = `${peer.base_url.replace(/\/+$/, '')}/v1/federation/events:ingest`;
      const traceparent = outgoingTraceparent() ?? newTraceparent();
      let held = after;
      for (let round = 0; round < maxRounds; round++) {
        const read = await options.runs.listEvents(auth, runId, { after: held, limit: batchSize });
        const events = gaplessAfter(read, held);
        if (events.length === 0) return held;
        const sent = events.map((event) => ({
          ...event,
          run_id: originRunId,
          node_id: event.node_id ?? options.nodeId,
        }));
        // What the origin holds without a gap: past this batch when it took it, before it when it
        // lacks earlier events (then they are sent next), beyond it when another push went further.
        held = await sendBatch(url, origin, auth.tenant_id, traceparent, sent);
      }
      return held;
    },
  };
}

export type EventPusher = ReturnType<typeof createEventPusher>;

/**
 * An event sink that also pushes a forwarded run's committed events to the node it came from
 * (HLD §7.4). Only runs a peer created (principal `peer/<peer_id>/…`) are looked at; a failed push
 * is reported, never thrown: the events stay in the run's log and the next push resends them from
 * what the origin holds.
 */
export function replicatingSink(
  inner: EventSinkPort,
  pusher: EventPusher,
  reportFailure: FailureReporter,
): EventSinkPort {
  return {
    async publish(auth, events) {
      await inner.publish(auth, events);
      if (!auth.principal.id.startsWith('peer/') || events.length === 0) return;
      for (const runId of new Set(events.map((event) => event.run_id))) {
        const first = Math.min(
          ...events.filter((event) => event.run_id === runId).map((event) => event.sequence),
        );
        await pusher
          .push(auth, runId, first - 1)
          .catch((error: unknown) =>
            reportFailure('forwarded run events not replicated', error, { run_id: runId }),
          );
      }
    },
  };
}
