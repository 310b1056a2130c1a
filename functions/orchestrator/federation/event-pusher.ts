import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { DependencyUnavailableError } from '../../shared/errors/agentos-error.ts';
import { errorFromResponse } from '../../shared/errors/error-from-envelope.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { outgoingTraceparent } from '../../shared/observability/trace-context.ts';
import { gaplessAfter } from '../events/event-order.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import type { RunRecord, RunStatePort } from '../ports/run-state-port.ts';
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
  /**
   * A push's whole time, retries and backoff included: it runs inside a step's commit, so an
   * unreachable origin slows a step by at most this much.
   */
  budgetMs?: number;
  /** The first pause between attempts; each next one doubles. */
  backoffMs?: number;
  /** How long pushes to an origin are skipped after a push to it failed. */
  breakerMs?: number;
  /** Milliseconds since the epoch; the clock of the budget and the breaker. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Where a failed catch-up push of another run is reported (see `push`). */
  reportFailure?: FailureReporter;
};

/** Runs owed to an origin that one successful push to it pushes again at most. */
const maxCatchUpPerPush = 5;

/** Origins whose recent failure is remembered at most, and runs known not to be pushed. */
const maxRemembered = 1_000;

/** Adds `key` to a bounded map, forgetting the oldest entry when it is full. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= maxRemembered) map.delete(map.keys().next().value!);
  map.set(key, value);
}

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
  const budgetMs = options.budgetMs ?? 3_000;
  const backoffMs = options.backoffMs ?? 100;
  const breakerMs = options.breakerMs ?? 10_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  /** Per origin, until when pushes to it are skipped (an in-process breaker). */
  const failedUntil = new Map<string, number>();
  /** Runs (tenant and id) that are never pushed: origin and creator of a run never change. */
  const notForwarded = new Map<string, true>();
  /** Per origin, the runs whose last push to it failed (tenant and id → the pushing caller). */
  const owed = new Map<string, Map<string, AuthContext>>();

  /** Remembers (or forgets) that `origin` lacks some of a run's events. */
  function owe(origin: string, known: string, auth: AuthContext | undefined): void {
    const runs = owed.get(origin) ?? new Map<string, AuthContext>();
    if (auth === undefined) runs.delete(known);
    else remember(runs, known, auth);
    if (runs.size === 0) owed.delete(origin);
    else if (!owed.has(origin)) remember(owed, origin, runs);
  }

  /** Sends one batch with a fresh single-use token per attempt; answers the next sequence expected. */
  async function sendBatch(
    url: string,
    origin: string,
    tenantId: string,
    traceparent: string,
    events: RunEvent[],
    deadline: number,
  ): Promise<number> {
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(backoffMs * 2 ** (attempt - 2), Math.max(0, deadline - now())));
      const left = deadline - now();
      if (left <= 0) break;
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
          signal: AbortSignal.timeout(Math.min(timeoutMs, left)),
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

  /**
   * Pushes one run within `deadline`, remembering it as owed to its origin when that fails; answers
   * the origin and what it holds, or undefined for a run not pushed to anyone.
   */
  async function pushRun(
    auth: AuthContext,
    runId: string,
    after: number,
    deadline: number,
    ignoreBreaker: boolean,
    given?: RunRecord,
  ): Promise<{ origin: string; held: number } | undefined> {
    const known = `${auth.tenant_id}/${runId}`;
    if (notForwarded.has(known)) return undefined;
    const run = given?.run_id === runId ? given : await options.runs.getRun(auth, runId);
    if (run === undefined) return undefined;
    const origin = run.metadata[originMetadata.node];
    const originRunId = run.metadata[originMetadata.run];
    // Only a run the origin itself created here goes back to it: metadata alone is the caller's to
    // write, and a run this node forwarded elsewhere (a `federation` link) is a copy, never pushed on.
    if (
      origin === undefined ||
      originRunId === undefined ||
      !run.principal_id.startsWith(`peer/${origin}/`) ||
      run.federation !== undefined
    ) {
      remember(notForwarded, known, true);
      return undefined;
    }
    const peer = await options.peers.get(origin);
    if (peer === undefined || peerTenantOf(peer, auth.tenant_id) === undefined) return undefined;
    if (!ignoreBreaker && (failedUntil.get(origin) ?? 0) > now()) {
      owe(origin, known, auth);
      throw new DependencyUnavailableError(
        `Node ${origin} could not take events moments ago; a later push resends them`,
      );
    }
    const url = `${peer.base_url.replace(/\/+$/, '')}/v1/federation/events:ingest`;
    const traceparent = outgoingTraceparent() ?? newTraceparent();
    let held = after;
    for (let round = 0; round < maxRounds && now() < deadline; round++) {
      const read = await options.runs.listEvents(auth, runId, { after: held, limit: batchSize });
      const events = gaplessAfter(read, held);
      if (events.length === 0) break;
      const sent = events.map((event) => ({
        ...event,
        run_id: originRunId,
        node_id: event.node_id ?? options.nodeId,
      }));
      // What the origin holds without a gap: past this batch when it took it, before it when it
      // lacks earlier events (then they are sent next), beyond it when another push went further.
      try {
        held = await sendBatch(url, origin, auth.tenant_id, traceparent, sent, deadline);
      } catch (error) {
        if (error instanceof DependencyUnavailableError) {
          remember(failedUntil, origin, now() + breakerMs);
          owe(origin, known, auth);
        }
        throw error;
      }
    }
    failedUntil.delete(origin);
    owe(origin, known, undefined);
    return { origin, held };
  }

  return {
    /**
     * Sends the run's events the origin lacks, from `after` (what this node believes the origin
     * holds; 0 sends from the start), following the origin's answer when it holds less. Nothing
     * happens for a run that was not forwarded here, or whose origin this node no longer trusts
     * for the tenant. Returns the sequence the origin holds everything up to. Once it succeeded,
     * it pushes again (within the same budget) a few runs whose last push to that origin failed,
     * so a run that commits nothing more still reaches its origin when this process next reaches it.
     * `run`, the run as a commit just left it, saves reading it to learn whether it was forwarded
     * here (its creator and origin never change).
     *
     * @throws DependencyUnavailableError when the origin cannot be reached after the bounded retries
     */
    async push(
      auth: AuthContext,
      runId: string,
      after = 0,
      pushOptions: { ignoreBreaker?: boolean; run?: RunRecord } = {},
    ): Promise<number | undefined> {
      const deadline = now() + budgetMs;
      const pushed = await pushRun(
        auth,
        runId,
        after,
        deadline,
        pushOptions.ignoreBreaker ?? false,
        pushOptions.run,
      );
      if (pushed === undefined) return undefined;
      const behind = [...(owed.get(pushed.origin) ?? new Map<string, AuthContext>())].slice(
        0,
        maxCatchUpPerPush,
      );
      for (const [known, owedAuth] of behind) {
        if (now() >= deadline) break;
        const owedRunId = known.slice(known.lastIndexOf('/') + 1);
        await pushRun(owedAuth, owedRunId, 0, deadline, false).catch((error: unknown) =>
          options.reportFailure?.('forwarded run events not replicated', error, { run_id: owedRunId }),
        );
      }
      return pushed.held;
    },
  };
}

export type EventPusher = ReturnType<typeof createEventPusher>;

/**
 * An event sink that also pushes a forwarded run's committed events to the node it came from
 * (HLD §7.4), whoever committed them: the peer's own steps, the tenant's admin canceling the run or
 * the operator's kill switch alike; the run (created here by its origin peer) decides, never the
 * caller. A failed push is reported, never thrown: the events stay in the run's log and the next
 * push resends them from what the origin holds.
 */
export function replicatingSink(
  inner: EventSinkPort,
  pusher: EventPusher,
  reportFailure: FailureReporter,
): EventSinkPort {
  return {
    async publish(auth, events, run) {
      await inner.publish(auth, events, run);
      if (events.length === 0) return;
      for (const runId of new Set(events.map((event) => event.run_id))) {
        const first = Math.min(
          ...events.filter((event) => event.run_id === runId).map((event) => event.sequence),
        );
        await pusher
          .push(auth, runId, first - 1, run?.run_id === runId ? { run } : {})
          .catch((error: unknown) =>
            reportFailure('forwarded run events not replicated', error, { run_id: runId }),
          );
      }
    },
  };
}
