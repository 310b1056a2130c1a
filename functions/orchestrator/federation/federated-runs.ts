import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { fingerprint } from '../../shared/encoding/canonical-json.ts';
import {
  AgentOsError,
  DependencyUnavailableError,
  IdempotencyKeyReusedError,
  InternalError,
  InvalidRequestError,
} from '../../shared/errors/agentos-error.ts';
import type { RateDecision } from '../../shared/limits/limiter-port.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { Cursor } from '../../shared/tenancy/tenant-paging.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import { RunMovedOnError, RunStateConflictError } from '../ports/run-state-port.ts';
import type { ClaimedRun, RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import { eventIds } from '../runtime/event-ids.ts';
import { queuedRunRecord } from '../runtime/queued-run-record.ts';
import { toRunView } from '../runtime/run-service.ts';
import { isTerminal, statesLeadingTo } from '../runtime/run-state-machine.ts';
import { newEvent } from '../schemas/event.ts';
import type { CreateRunRequest, Run, RunTarget } from '../schemas/run.ts';
import type { RunForwarder } from './run-forwarder.ts';
import type { PeerCapabilities } from './schemas/peer-capabilities.ts';
import { peerTenantOf } from './schemas/peer.ts';
import type { Peer } from './schemas/peer.ts';
import type { ForwardedRun } from './schemas/run-forwarding.ts';

/** What the origin side of a forwarded run is built on. */
export type FederatedRunDeps = {
  runs: RunStatePort;
  /** Where the events a commit here stored go: streams following the run, logs, replication. */
  sink: EventSinkPort;
  forwarder: Pick<RunForwarder, 'prepare' | 'capabilities' | 'cancel'>;
  peers: Pick<PeerRegistryPort, 'list'>;
  /** This node's id: the origin of the runs it forwards. */
  nodeId: string;
  /** The model tiers this node offers itself (`AGENTOS_FEDERATION_MODELS`). */
  localTiers: readonly string[];
  reportFailure: FailureReporter;
  /** Counts a cancel that could not reach the peer (`RemoteCancelsFailed`). */
  countRemoteCancelFailure?: () => void;
  now: () => Date;
  newRunId: () => string;
  /** How long an idempotency key is remembered; the same as local runs'. */
  idempotencyTtlSeconds: number;
  /** How long a peer's capabilities are reused when placing by model tier. */
  capabilitiesTtlMs?: number;
  /** The whole time placing by model tier may take; peers not heard from by then offer nothing. */
  placementBudgetMs?: number;
};

/** Pages of trusted peers read looking for a model tier; each page holds up to 50 peers. */
const maxPeerPages = 4;

/** Peers whose capabilities are asked at once when placing by model tier. */
const capabilityConcurrency = 4;

/**
 * The most a cancel may spend forwarding again a run whose forward never got an answer, to learn its
 * id on the peer, and cancelling it there: it runs while the client's cancel request waits.
 */
const unansweredCancelBudgetMs = 8_000;

/** Peers whose capabilities are remembered at most. */
const maxCachedCapabilities = 500;

/** Where a run with a target goes: this node (its tier is offered here) or a peer. */
export type Placement = { where: 'local' } | { where: 'peer'; peerId: string };

/**
 * The origin side of run forwarding (HLD §7.3, §7.4): a run created with a `target` is forwarded to a
 * trusted peer and kept here as a run whose `federation` names the peer and the run there; the peer
 * replicates its events into it (`events:ingest`), so this node's events API and SSE stream serve
 * them. The client's Idempotency-Key makes creation safe to retry (the same local run), whose id is
 * the forward key (the same remote run).
 */
export function createFederatedRuns(deps: FederatedRunDeps) {
  const capabilitiesTtlMs = deps.capabilitiesTtlMs ?? 60_000;
  const placementBudgetMs = deps.placementBudgetMs ?? 5_000;
  /** Peers' capabilities as last read, each until it expires (an in-process, bounded cache). */
  const known = new Map<string, { capabilities: PeerCapabilities; expiresAt: number }>();

  /** A peer's capabilities, from the cache while fresh; an unreachable peer has none. */
  async function capabilitiesOf(peer: Peer): Promise<PeerCapabilities | undefined> {
    const cached = known.get(peer.peer_id);
    if (cached !== undefined && cached.expiresAt > deps.now().getTime()) return cached.capabilities;
    try {
      const capabilities = await deps.forwarder.capabilities(peer);
      known.delete(peer.peer_id);
      if (known.size >= maxCachedCapabilities) known.delete(known.keys().next().value!);
      known.set(peer.peer_id, { capabilities, expiresAt: deps.now().getTime() + capabilitiesTtlMs });
      return capabilities;
    } catch (error) {
      // An unreachable peer offers nothing now; the others may.
      deps.reportFailure('peer capabilities unavailable', error, { peer_id: peer.peer_id });
      return undefined;
    }
  }

  /**
   * The first trusted peer of the tenant (in the registry's order) whose capabilities offer the
   * tier, or none: a few peers asked at once, and none once the placement's time is spent.
   */
  async function peerOffering(auth: AuthContext, tier: string): Promise<string | undefined> {
    const deadline = deps.now().getTime() + placementBudgetMs;
    let cursor: Cursor | undefined;
    for (let page = 0; page < maxPeerPages; page++) {
      const { peers, next } = await deps.peers.list({
        limit: 50,
        ...(cursor === undefined ? {} : { cursor }),
      });
      const trusted = peers.filter((peer) => peerTenantOf(peer, auth.tenant_id) !== undefined);
      for (let at = 0; at < trusted.length; at += capabilityConcurrency) {
        const left = deadline - deps.now().getTime();
        if (left <= 0) return undefined;
        const group = trusted.slice(at, at + capabilityConcurrency);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const outOfTime = new Promise<undefined>((done) => {
          timer = setTimeout(() => done(undefined), left);
        });
        const answers = await Promise.race([Promise.all(group.map(capabilitiesOf)), outOfTime]);
        clearTimeout(timer);
        if (answers === undefined) return undefined;
        const offering = group.find((_, index) =>
          answers[index]?.models.tiers.some((offered) => offered.name === tier),
        );
        if (offering !== undefined) return offering.peer_id;
      }
      if (next === null) return undefined;
      cursor = next;
    }
    return undefined;
  }

  /** The claim of an Idempotency-Key: the same scope as a local run's, so one key names one run wherever it runs. */
  function claimOf(auth: AuthContext, body: CreateRunRequest, idempotencyKey: string, now: Date) {
    return {
      scopeHash: fingerprint([auth.tenant_id, auth.principal.id, body.agent_id, idempotencyKey]),
      requestHash: fingerprint(body),
      expiresAt: Math.floor(now.getTime() / 1000) + deps.idempotencyTtlSeconds,
    };
  }

  /**
   * The forward key: the origin run's id, so every retry of one client request (which replays that
   * run) sends the same forward, and a key reused once its claim expired, which creates a new run
   * here, can never be answered with the old run's remote run.
   */
  function forwardKeyOf(runId: string): string {
    return `run:${runId}`;
  }

  /** Records where the run went; the ingest's own field (`replicated_sequence`) is left alone. */
  async function link(auth: AuthContext, run: RunRecord, forwarded: ForwardedRun): Promise<RunRecord> {
    const eventsUrl = new URL(forwarded.events_url);
    // The peer's token reads only its run and lives minutes; the run's events are served here.
    eventsUrl.search = '';
    const result = await deps.runs.commit(auth, run.run_id, {
      requireStatus: ['queued', 'running', 'completed', 'failed', 'canceled'],
      changes: {
        federation: {
          origin_node_id: deps.nodeId,
          node_id: forwarded.node_id,
          remote_run_id: forwarded.run_id,
          remote_events_url: eventsUrl.toString(),
        },
      },
      events: [],
    });
    return result.run;
  }

  /** Ends a run whose forward was refused: the client's answer is the refusal. */
  async function fail(auth: AuthContext, run: RunRecord, error: AgentOsError): Promise<void> {
    const failure = { code: error.code, message: error.message };
    await deps.runs
      .commit(auth, run.run_id, {
        requireStatus: statesLeadingTo('failed'),
        status: 'failed',
        changes: { error: failure, ended_at: deps.now().toISOString() },
        events: [
          {
            ...newEvent(eventIds.runTerminal(run.run_id), 'run.failed', { status: 'failed', error: failure }),
            node_id: deps.nodeId,
          },
        ],
      })
      .then(
        async (failed) => {
          if (failed.appended === 0) return;
          // The store already holds the event; a failed publish is reported, not thrown.
          await deps.sink
            .publish(auth, failed.events, failed.run)
            .catch((publishError: unknown) =>
              deps.reportFailure('run events not published', publishError, { run_id: run.run_id }),
            );
        },
        (commitError: unknown) => {
          if (commitError instanceof RunStateConflictError || commitError instanceof RunMovedOnError) return;
          deps.reportFailure('could not fail a run whose forward was refused', commitError, {
            run_id: run.run_id,
          });
        },
      );
  }

  /**
   * Sends the forward of a stored run and links it. A peer that could not be reached leaves the run
   * queued when the client can retry with its key (the retry sends the same forward); any other
   * refusal fails the run.
   */
  async function forward(
    auth: AuthContext,
    run: RunRecord,
    send: (originRunId: string) => Promise<ForwardedRun>,
    retryable: boolean,
    traceparent: string,
  ): Promise<Run> {
    let forwarded: ForwardedRun;
    try {
      forwarded = await send(run.run_id);
    } catch (error) {
      const refusal =
        error instanceof AgentOsError
          ? error
          : new DependencyUnavailableError('The peer could not take the run', { cause: error });
      if (!(retryable && refusal instanceof DependencyUnavailableError)) await fail(auth, run, refusal);
      throw retryable && refusal instanceof DependencyUnavailableError
        ? new DependencyUnavailableError(
            'The run was stored but the peer could not take it yet; retry with the same Idempotency-Key',
            { cause: refusal, details: { run_id: run.run_id } },
          )
        : refusal;
    }
    const linked = await link(auth, run, forwarded);
    // Canceled here while the forward was on its way: the peer's run is canceled too (HLD §7.3).
    if (linked.status === 'canceled') return cancelRemote(auth, toRunView(linked), traceparent);
    return toRunView(linked);
  }

  /** The forward request of a stored forwarded run, as its creation sent it (the same forward key). */
  function forwardRequestOf(run: RunRecord, peerId: string, traceparent: string) {
    return {
      peerId,
      agentId: run.agent_id,
      input: run.input,
      ...(run.metadata === undefined || run.metadata === null ? {} : { metadata: run.metadata }),
      forwardKey: forwardKeyOf(run.run_id),
      traceparent,
      originRunId: run.run_id,
    };
  }

  /**
   * Cancels on the peer a forwarded run whose forward never got an answer: the same forward again
   * (the forward key makes it idempotent) is answered with the run the first one created there, or
   * creates it, and is linked here; then that run is canceled. Within its budget, or it throws; what
   * is still under way goes on and is reported if it fails.
   */
  async function cancelUnanswered(
    auth: AuthContext,
    runId: string,
    peerId: string,
    traceparent: string,
  ): Promise<void> {
    const work = (async () => {
      const run = await deps.runs.getRun(auth, runId);
      if (run === undefined) throw new DependencyUnavailableError('The forwarded run is gone');
      let remoteRunId = run.federation?.remote_run_id ?? null;
      if (remoteRunId === null) {
        const prepared = await deps.forwarder.prepare(auth, forwardRequestOf(run, peerId, traceparent));
        const forwarded = await prepared.send(runId);
        await link(auth, run, forwarded);
        remoteRunId = forwarded.run_id;
      }
      await deps.forwarder.cancel(auth, { peerId, remoteRunId, traceparent });
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new DependencyUnavailableError('The peer did not answer the forward in time to cancel it')),
        unansweredCancelBudgetMs,
      );
    });
    try {
      await Promise.race([work, late]);
    } catch (error) {
      // Still under way after the budget: its own end is reported, not lost.
      work.catch((failure: unknown) =>
        deps.reportFailure('forwarded run cancel not sent to the peer', failure, { run_id: runId }),
      );
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends the cancel of a forwarded run, already canceled here, to the peer that runs it (HLD
   * §7.3), so the peer stops spending its budget on it. The cancel here stands whatever the peer
   * answers: a peer that cannot be reached in the forwarder's cancel budget, or refuses, is logged
   * and counted, and the answer's `federation.remote_cancel` says `failed` (cancelling again sends
   * it again); `acknowledged` when the peer canceled its run or it had ended there already. A run
   * whose forward never got an answer is forwarded again first, to learn its id there.
   */
  async function cancelRemote(auth: AuthContext, run: Run, traceparent: string): Promise<Run> {
    if (run.federation === undefined) return run;
    let outcome: 'acknowledged' | 'failed' = 'failed';
    try {
      const remoteRunId = run.federation.remote_run_id;
      if (remoteRunId === null) await cancelUnanswered(auth, run.run_id, run.federation.node_id, traceparent);
      else await deps.forwarder.cancel(auth, { peerId: run.federation.node_id, remoteRunId, traceparent });
      outcome = 'acknowledged';
    } catch (error) {
      deps.reportFailure('forwarded run cancel not sent to the peer', error, {
        run_id: run.run_id,
        peer_id: run.federation.node_id,
      });
      deps.countRemoteCancelFailure?.();
    }
    return { ...run, federation: { ...run.federation, remote_cancel: outcome } };
  }

  /** The answer to a request whose Idempotency-Key a live claim holds; an unsent forward is sent. */
  async function replay(
    auth: AuthContext,
    body: CreateRunRequest,
    claimed: ClaimedRun,
    traceparent: string,
  ): Promise<{ run: Run; replayed: true }> {
    if (claimed.outcome === 'key_reused')
      throw new IdempotencyKeyReusedError(
        'This Idempotency-Key was already used with a different request body',
        {
          details: { header: 'Idempotency-Key' },
        },
      );
    const run = claimed.run;
    if (run.federation === undefined || isTerminal(run.status))
      return { run: toRunView(run), replayed: true };
    const request = {
      peerId: run.federation.node_id,
      agentId: body.agent_id,
      input: body.input,
      ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
      forwardKey: forwardKeyOf(run.run_id),
      traceparent,
      originRunId: run.run_id,
    };
    if (run.federation.remote_run_id === null) {
      const prepared = await deps.forwarder.prepare(auth, request);
      return { run: await forward(auth, run, prepared.send, true, traceparent), replayed: true };
    }
    // The same forward again is answered from the peer's idempotency record, and the peer pushes
    // the run's events anew: a retry by the client makes good a push the peer could not deliver.
    try {
      await (await deps.forwarder.prepare(auth, request)).send(run.run_id);
    } catch (error) {
      deps.reportFailure('forwarded run not resynchronized', error, { run_id: run.run_id });
    }
    const now = await deps.runs.getRun(auth, run.run_id);
    return { run: toRunView(now ?? run), replayed: true };
  }

  return {
    cancelRemote,

    /**
     * Where a run with this target goes: a named peer, or wherever its model tier is offered (this
     * node first). Refused when no node offers the tier.
     *
     * @throws InvalidRequestError when neither this node nor a peer trusted for the tenant offers it
     */
    async place(
      auth: AuthContext,
      target: RunTarget,
      retry?: { body: CreateRunRequest; idempotencyKey: string | undefined },
    ): Promise<Placement> {
      if ('peer_id' in target) return { where: 'peer', peerId: target.peer_id };
      if (deps.localTiers.includes(target.model_tier)) return { where: 'local' };
      // A retry goes where its first attempt went, read from the key's claim before any peer is
      // asked: a peer down now must not refuse a run that exists.
      if (retry?.idempotencyKey !== undefined) {
        const now = deps.now();
        const earlier = await deps.runs.findIdempotentRun(
          auth,
          claimOf(auth, retry.body, retry.idempotencyKey, now),
          now.toISOString(),
        );
        if (earlier !== undefined)
          return earlier.outcome === 'replayed' && earlier.run.federation !== undefined
            ? { where: 'peer', peerId: earlier.run.federation.node_id }
            : { where: 'local' };
      }
      const peerId = await peerOffering(auth, target.model_tier);
      if (peerId === undefined)
        throw new InvalidRequestError(
          `No node offers model tier ${target.model_tier}: neither this node nor a peer trusted for the tenant`,
          [{ field: 'target.model_tier', message: 'offered by no node this tenant may use' }],
        );
      return { where: 'peer', peerId };
    },

    /**
     * Creates the run here and forwards it to `peerId`. The peer's capabilities and the tenant's
     * trust are checked before anything is created; a replay returns the run the key created.
     *
     * `admit` takes the tenant's run creation (run-service.ts `takeRunCreation`).
     *
     * @throws RateLimitedError from `admit`, IdempotencyKeyReusedError, and the forward's refusals (404 agent or a peer the tenant may not use, 403 trust between the nodes, 400 capabilities, 503)
     */
    async createRun(
      auth: AuthContext,
      body: CreateRunRequest,
      peerId: string,
      idempotencyKey: string | undefined,
      traceparent: string,
      admit?: () => Promise<RateDecision | undefined>,
    ): Promise<{ run: Run; replayed: boolean; rateLimit?: RateDecision }> {
      const now = deps.now();
      const at = now.toISOString();
      const claim = idempotencyKey === undefined ? undefined : claimOf(auth, body, idempotencyKey, now);
      const earlier = claim === undefined ? undefined : await deps.runs.findIdempotentRun(auth, claim, at);
      if (earlier !== undefined) return replay(auth, body, earlier, traceparent);
      // A new run takes one of the tenant's run creations as a local one does; a replay takes none.
      const rateLimit = await admit?.();
      const runId = deps.newRunId();
      const prepared = await deps.forwarder.prepare(auth, {
        peerId,
        agentId: body.agent_id,
        input: body.input,
        ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
        forwardKey: forwardKeyOf(runId),
        traceparent,
      });
      const record: RunRecord = {
        ...queuedRunRecord(auth, body, at, {
          run_id: runId,
          // The agent is the peer's; its version there is not reported back.
          agent_version: 1,
          mode: 'standard',
          // No step of it runs here: the peer schedules it.
          scheduled_at: at,
        }),
        federation: {
          origin_node_id: deps.nodeId,
          node_id: prepared.peer.peer_id,
          remote_run_id: null,
          remote_events_url: null,
        },
        replicated_sequence: 0,
      };
      // No event of its own: the run's events are the peer's, replicated in their order (HLD §7.4).
      // Its run creation was taken above (`takeRunCreation`), so the store is given no bucket.
      const created = await deps.runs.createRun(auth, record, [], claim);
      if (created.outcome === 'rate_limited')
        throw new InternalError('A creation given no rate bucket was rate limited');
      if (created.outcome !== 'created') return replay(auth, body, created, traceparent);
      return {
        run: await forward(auth, created.run, prepared.send, claim !== undefined, traceparent),
        replayed: false,
        ...(rateLimit === undefined ? {} : { rateLimit }),
      };
    },
  };
}

export type FederatedRuns = ReturnType<typeof createFederatedRuns>;
