import type { AuthContext } from '../../shared/auth/auth-context.ts';
import {
  DependencyUnavailableError,
  InvalidRequestError,
  NotFoundError,
} from '../../shared/errors/agentos-error.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { EventSinkPort } from '../ports/event-sink-port.ts';
import { RunMovedOnError, RunStateConflictError } from '../ports/run-state-port.ts';
import type { RunChanges, RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import { isTerminal, statesLeadingTo } from '../runtime/run-state-machine.ts';
import type { RunError, RunStatus, RunUsage } from '../schemas/run.ts';
import type { AssistantMessage } from '../../shared/contracts/chat.ts';
import type { RunEvent } from '../schemas/event.ts';
import { maxIngestRuns } from './schemas/event-ingest.ts';
import type { IngestEventsRequest, IngestEventsResult } from './schemas/event-ingest.ts';

/** What event replication is built on. */
export type EventIngestDeps = {
  runs: RunStatePort;
  sink: EventSinkPort;
  reportFailure: FailureReporter;
};

/** Times a run may move on under an ingest (each time it re-reads it) before the ingest gives up. */
const maxIngestAttempts = 8;

/**
 * Events one commit stores at most: each is two items of a transaction (the event and its id guard)
 * of at most 100 (dynamo-run-state.ts), and their data at most about a third of its 4 MB.
 */
const maxEventsPerCommit = 40;
const maxBytesPerCommit = 1024 * 1024;

/** The events that end a run. */
const terminalEventTypes: ReadonlySet<string> = new Set(['run.completed', 'run.failed', 'run.canceled']);

/** The events that follow `held` without a gap, as many as one commit stores. */
function nextCommit(ordered: readonly RunEvent[], held: number): RunEvent[] {
  const taken: RunEvent[] = [];
  let bytes = 0;
  for (const event of ordered) {
    if (event.sequence <= held) continue;
    if (event.sequence !== held + taken.length + 1 || taken.length === maxEventsPerCommit) break;
    bytes += Buffer.byteLength(JSON.stringify(event.data), 'utf8');
    // One event alone always goes: the store refuses what no commit can hold.
    if (taken.length > 0 && bytes > maxBytesPerCommit) break;
    taken.push(event);
    // What follows a run's end is not stored (see ingestRun): the end closes its commit.
    if (terminalEventTypes.has(event.type)) break;
  }
  return taken;
}

/** The run's status and fields once `events` (in order) have happened to it. */
function applied(run: RunRecord, events: readonly RunEvent[]): { status: RunStatus; changes: RunChanges } {
  let status = run.status;
  const changes: RunChanges = {};
  const move = (to: RunStatus): boolean => {
    if (!statesLeadingTo(to).includes(status)) return false;
    status = to;
    return true;
  };
  for (const event of events) {
    const data = event.data;
    if (event.type === 'run.started' && move('running')) {
      changes.started_at = event.time;
      changes.status_reason = null;
    } else if (event.type === 'step.completed') {
      changes.steps_completed = Math.max(run.steps_completed, Number(data['step']) || 0);
    } else if (event.type === 'model.completed') {
      // The run's usage adds up its model answers, as the step engine does on the peer.
      const usage = data['usage'] as RunUsage;
      const sum = changes.usage ?? run.usage;
      changes.usage = {
        prompt_tokens: sum.prompt_tokens + usage.prompt_tokens,
        completion_tokens: sum.completion_tokens + usage.completion_tokens,
        cost_usd: sum.cost_usd + usage.cost_usd,
      };
    } else if (event.type === 'run.completed' && move('completed')) {
      changes.output = data['output'] as { message: AssistantMessage };
      changes.ended_at = event.time;
    } else if (event.type === 'run.failed' && move('failed')) {
      changes.error = data['error'] as RunError;
      changes.ended_at = event.time;
    } else if (event.type === 'run.canceled' && move('canceled')) {
      changes.ended_at = event.time;
    }
  }
  return { status, changes };
}

/**
 * The receiving side of event replication (HLD §7.4): the peer a run was forwarded to sends that
 * run's events back to its origin, which stores them in its own record of the run, so the origin's
 * events API and SSE stream serve them like local events. At least once, deduplicated by the peer's
 * sequence and `event_id`, stored in sequence order with no gap: an event past a gap is deferred (not
 * stored) and the answer names the next sequence expected, so the sender resends from there. Events
 * that come once the run ended here are acknowledged and dropped (counted as duplicates).
 */
export function createEventIngest(deps: EventIngestDeps) {
  /** The run, when the caller is the peer it was forwarded to; any other run is unknown to it. */
  async function forwardedRun(auth: AuthContext, peerId: string, runId: string): Promise<RunRecord> {
    const run = await deps.runs.getRun(auth, runId);
    // Another tenant's run, a local run and a run forwarded elsewhere all read as missing (HLD §5.2).
    if (run?.federation?.node_id !== peerId) throw new NotFoundError(`Run ${runId} was not found`);
    return run;
  }

  /**
   * Stores what follows the run's replicated prefix, a commit at a time; re-reads the run and goes
   * on when a concurrent ingest (or this node) moved it on.
   */
  async function ingestRun(
    auth: AuthContext,
    peerId: string,
    first: RunRecord,
    events: readonly RunEvent[],
  ): Promise<{ accepted: number; duplicates: number; deferred: number; contiguous: number }> {
    // One event per sequence (the first sent wins), in order.
    const bySequence = new Map<number, RunEvent>();
    for (const event of events) if (!bySequence.has(event.sequence)) bySequence.set(event.sequence, event);
    const ordered = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
    let run = first;
    let accepted = 0;
    let moves = 0;
    for (;;) {
      const held = run.replicated_sequence ?? 0;
      const taken = nextCommit(ordered, held);
      if (taken.length === 0) break;
      const { status, changes } = applied(run, taken);
      try {
        if (isTerminal(run.status)) {
          // The run ended here (canceled at this node, failed when the peer could not take it, or
          // ended by a replicated event): the peer's later events are acknowledged, never stored,
          // so the run's log still ends with its terminal event (HLD §7.4).
          run = (
            await deps.runs.commit(auth, run.run_id, {
              requireStatus: [run.status],
              requireLastSequence: run.last_sequence,
              changes: { replicated_sequence: held + taken.length },
              events: [],
            })
          ).run;
          continue;
        }
        const result = await deps.runs.commit(auth, run.run_id, {
          requireStatus: [run.status],
          requireLastSequence: run.last_sequence,
          ...(status === run.status ? {} : { status }),
          changes: { ...changes, replicated_sequence: held + taken.length },
          events: taken.map((event) => ({
            event_id: event.event_id,
            type: event.type,
            data: event.data,
            time: event.time,
            // The verified caller produced them, whatever the event claims (HLD §7.4).
            node_id: peerId,
          })),
        });
        // An event id held already (a peer resending it under another sequence) is not stored twice;
        // a commit of only such ids is taken as a redelivery and moves nothing, so going on would
        // send the same commit forever: the batch is refused, naming the event.
        if (result.appended === 0 && (result.run.replicated_sequence ?? 0) <= held) {
          const reused = taken[0]!;
          throw new InvalidRequestError(
            `Event ${reused.event_id} is already held under another sequence than ${reused.sequence}`,
            [
              {
                field: 'events',
                message: `event_id ${reused.event_id} was sent before with another sequence`,
              },
            ],
          );
        }
        accepted += result.appended;
        run = result.run;
        await deps.sink
          .publish(auth, result.events, result.run)
          .catch((error: unknown) =>
            deps.reportFailure('replicated run events not published', error, { run_id: run.run_id }),
          );
      } catch (error) {
        if (!(error instanceof RunMovedOnError) && !(error instanceof RunStateConflictError)) throw error;
        moves += 1;
        if (moves >= maxIngestAttempts)
          throw new DependencyUnavailableError(`Run ${first.run_id} kept changing; send its events again`, {
            cause: error,
          });
        run = await forwardedRun(auth, peerId, run.run_id);
      }
    }
    const contiguous = run.replicated_sequence ?? 0;
    const deferred = ordered.filter((event) => event.sequence > contiguous).length;
    return { accepted, duplicates: events.length - accepted - deferred, deferred, contiguous };
  }

  return {
    /**
     * Stores a peer's batch of replicated events. `peerId` is the verified caller; every run the
     * batch names must be one this tenant forwarded to it, else nothing is stored (404).
     *
     * @throws InvalidRequestError when `source_node_id` is not the caller
     * @throws NotFoundError when a run is not one this tenant forwarded to the caller
     */
    async ingest(
      auth: AuthContext,
      peerId: string,
      request: IngestEventsRequest,
    ): Promise<IngestEventsResult> {
      if (request.source_node_id !== peerId)
        throw new InvalidRequestError('The source is not the calling peer', [
          { field: 'source_node_id', message: 'must be the node id the peer token was issued by' },
        ]);
      const byRun = new Map<string, RunEvent[]>();
      for (const event of request.events as RunEvent[]) {
        const list = byRun.get(event.run_id) ?? [];
        list.push(event);
        byRun.set(event.run_id, list);
      }
      if (byRun.size > maxIngestRuns)
        throw new InvalidRequestError(`A batch names events of at most ${maxIngestRuns} runs`, [
          { field: 'events', message: `events of ${byRun.size} runs` },
        ]);
      // Every run is checked before anything is stored, so a refused batch stores nothing.
      const runs = await Promise.all([...byRun.keys()].map((runId) => forwardedRun(auth, peerId, runId)));
      for (const run of runs) {
        // The peer's events carry its own run's ids: another prefix could claim ids of this node's
        // events. Before the forward's answer links the run (its events may come first) the peer
        // is bound by the run's `node_id` alone.
        const remoteRunId = run.federation?.remote_run_id;
        if (remoteRunId === undefined || remoteRunId === null) continue;
        const foreign = byRun.get(run.run_id)!.find((event) => !event.event_id.startsWith(`${remoteRunId}:`));
        if (foreign !== undefined)
          throw new InvalidRequestError(`Event ${foreign.event_id} is not one of the peer's run`, [
            { field: 'events', message: `event_id must start with ${remoteRunId}:` },
          ]);
      }
      const result: IngestEventsResult = {
        object: 'federation.events_ingested',
        accepted: 0,
        duplicates: 0,
        deferred: 0,
        runs: [],
      };
      for (const run of runs) {
        const outcome = await ingestRun(auth, peerId, run, byRun.get(run.run_id)!);
        result.accepted += outcome.accepted;
        result.duplicates += outcome.duplicates;
        result.deferred = (result.deferred ?? 0) + outcome.deferred;
        result.runs.push({
          run_id: run.run_id,
          contiguous_sequence: outcome.contiguous,
          next_sequence: outcome.contiguous + 1,
        });
      }
      return result;
    },
  };
}

export type EventIngest = ReturnType<typeof createEventIngest>;
