import type { RunStatus } from '../../schemas/run.ts';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { ChatMessage } from '../../../shared/contracts/chat.ts';
import { DependencyUnavailableError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { storageKeys } from '../../../shared/storage/keys.ts';
import { InMemoryRateLimiter } from '../../../shared/limits/adapters/in-memory-limits.ts';
import type { RateDecision } from '../../../shared/limits/limiter-port.ts';
import {
  maxRunIndexEntriesPerList,
  RunMovedOnError,
  RunStateConflictError,
} from '../../ports/run-state-port.ts';
import type {
  ClaimedRun,
  CommitResult,
  CreateRunResult,
  IdempotencyClaim,
  RunChanges,
  RunCommit,
  RunCreationRate,
  RunListQuery,
  RunRecord,
  RunStatePort,
} from '../../ports/run-state-port.ts';
import type { NewEvent, RunEvent } from '../../schemas/event.ts';
import type { StepRecord } from '../../schemas/step.ts';
import { decodeRunCursor, encodeRunCursor, runIndexSortKey } from '../run-index-cursor.ts';
import { assertRecordFits, checkCommitSize } from '../run-limits.ts';
import { transcriptTail } from '../transcript-tail.ts';
import { withinPageBytes } from '../../memory/namespace.ts';

/**
 * A run as held here: its record, the index of its event ids, its events in sequence order, its
 * transcript, its step records and its place in the tenant's run index.
 */
type StoredRun = {
  /** The tenant whose key holds the run. */
  tenant: string;
  record: RunRecord;
  index: Record<string, number>;
  events: RunEvent[];
  transcript: ChatMessage[];
  steps: Map<number, StepRecord>;
  sortKey: number;
};

type StoredClaim = { runId: string; requestHash: string; expiresAt: number };

/** The fields a commit sets; as in a DynamoDB update, a field given as `undefined` is left as it is. */
function definedChanges(changes: RunChanges | undefined): RunChanges {
  return Object.fromEntries(
    Object.entries(changes ?? {}).filter(([, value]) => value !== undefined),
  ) as RunChanges;
}

/**
 * RunStatePort held in one process's memory, for the unit tier and single-process use only (nothing
 * is shared between processes or survives a restart). It keeps the DynamoDB adapter's rules: runs
 * and idempotency claims keyed by tenant (through the same storage keys, so the same ids are
 * refused), idempotent creation that replays a live claim, refuses a reused key and ignores an
 * expired claim (as of the run's `created_at`), commits that apply only in a required status, gapless
 * sequences, events deduplicated by `event_id`, transcripts bounded only by the caller's
 * `maxTranscriptBytes`, and the same limit on a run's own fields. Each call is atomic because it does
 * all its reading and writing without yielding. Values are copied in and out, so a caller cannot
 * change what is stored through an object it passed or got back. `now` stamps commits (`updated_at`
 * and event times); creation uses the run's own `created_at`, as on DynamoDB.
 */
export class InMemoryRunStateStore implements RunStatePort {
  readonly #runs = new Map<string, StoredRun>();
  readonly #claims = new Map<string, StoredClaim>();
  readonly #now: () => Date;
  #created = 0;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async findIdempotentRun(
    auth: AuthContext,
    claim: IdempotencyClaim,
    at: string,
  ): Promise<ClaimedRun | undefined> {
    return this.#replayOf(auth, claim, at);
  }

  /** What a live claim says about a creation with `claim` (synchronous, so creation stays atomic). */
  #replayOf(auth: AuthContext, claim: IdempotencyClaim, at: string): ClaimedRun | undefined {
    const existing = this.#claims.get(storageKeys.idempotency(auth.tenant_id, claim.scopeHash));
    // A claim holds until its expiry; one that has passed it is replaced, as DynamoDB's condition allows.
    if (existing === undefined || existing.expiresAt < epochSeconds(at)) return undefined;
    if (existing.requestHash !== claim.requestHash) return { outcome: 'key_reused' };
    const claimed = this.#runs.get(storageKeys.run(auth.tenant_id, existing.runId));
    if (claimed === undefined) throw new DependencyUnavailableError('The claimed run is missing');
    return { outcome: 'replayed', run: structuredClone(claimed.record) };
  }

  async createRun(
    auth: AuthContext,
    run: RunRecord,
    events: NewEvent[],
    idempotency?: IdempotencyClaim,
    rate?: RunCreationRate,
  ): Promise<CreateRunResult> {
    // A limiter of this process takes in the same step as the run is stored; any other is awaited
    // first, and the claim is looked at again after it.
    const decision =
      rate === undefined || rate.limiter instanceof InMemoryRateLimiter
        ? undefined
        : await this.#takeUnlessReplay(auth, rate, run.created_at, idempotency);
    const pk = storageKeys.run(auth.tenant_id, run.run_id);
    const time = run.created_at;
    const stored: StoredRun = {
      tenant: auth.tenant_id,
      record: { ...structuredClone(run), last_sequence: 0, transcript_messages: 0, transcript_bytes: 0 },
      index: {},
      events: [],
      transcript: [],
      steps: new Map(),
      sortKey: 0,
    };
    this.#append(stored, events, time);
    assertRecordFits(stored.record);
    if (idempotency !== undefined) {
      const replay = this.#replayOf(auth, idempotency, time);
      if (replay !== undefined) return replay;
    }
    if (this.#runs.has(pk)) throw new DependencyUnavailableError(`Run ${run.run_id} already exists`);
    const taken =
      decision ??
      (rate?.limiter instanceof InMemoryRateLimiter
        ? rate.limiter.takeNow(rate.bucket.key, rate.bucket.limit)
        : undefined);
    if (taken?.allowed === false) return { outcome: 'rate_limited', rate: taken };
    stored.sortKey = this.#sortKeyFor(auth.tenant_id, run.created_at);
    this.#runs.set(pk, stored);
    if (idempotency !== undefined) {
      this.#claims.set(storageKeys.idempotency(auth.tenant_id, idempotency.scopeHash), {
        runId: run.run_id,
        requestHash: idempotency.requestHash,
        expiresAt: idempotency.expiresAt,
      });
    }
    return {
      outcome: 'created',
      run: structuredClone(stored.record),
      events: structuredClone(stored.events),
      ...(taken === undefined ? {} : { rate: taken }),
    };
  }

  /** Takes the creation's rate through a limiter of another store, unless the claim already answers. */
  async #takeUnlessReplay(
    auth: AuthContext,
    rate: RunCreationRate,
    at: string,
    idempotency: IdempotencyClaim | undefined,
  ): Promise<RateDecision | undefined> {
    if (idempotency !== undefined && this.#replayOf(auth, idempotency, at) !== undefined) return undefined;
    return rate.limiter.take(rate.bucket.key, rate.bucket.limit);
  }

  async getRun(auth: AuthContext, runId: string): Promise<RunRecord | undefined> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    return stored === undefined ? undefined : structuredClone(stored.record);
  }

  async getRunStatus(auth: AuthContext, runId: string): Promise<RunStatus | undefined> {
    return this.#runs.get(storageKeys.run(auth.tenant_id, runId))?.record.status;
  }

  async commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    const current = this.#runs.get(pk);
    if (current === undefined) throw new NotFoundError(`Run ${runId} was not found`);
    if (!change.requireStatus.includes(current.record.status)) {
      throw new RunStateConflictError(current.record.status);
    }
    if (
      change.requireLastSequence !== undefined &&
      current.record.last_sequence !== change.requireLastSequence
    )
      throw new RunMovedOnError(current.record.last_sequence);
    const fresh = change.events.filter((event) => current.index[event.event_id] === undefined);
    // Every event already stored: a redelivered commit, which changes nothing.
    if (fresh.length === 0 && change.events.length > 0) {
      return { run: structuredClone(current.record), events: eventsFor(current, change.events), appended: 0 };
    }
    const appendedMessages = change.appendTranscript ?? [];
    const transcriptBytes = current.record.transcript_bytes + checkCommitSize(change, current.record, fresh);
    const time = this.#now().toISOString();
    const next: StoredRun = {
      ...current,
      record: {
        ...current.record,
        ...structuredClone(definedChanges(change.changes)),
        status: change.status ?? current.record.status,
        transcript_messages: current.record.transcript_messages + appendedMessages.length,
        transcript_bytes: transcriptBytes,
        updated_at: time,
      },
      index: { ...current.index },
      events: [...current.events],
    };
    const appended = this.#append(next, fresh, time);
    assertRecordFits(next.record);
    next.transcript = [...current.transcript, ...structuredClone(appendedMessages)];
    if (change.step !== undefined) {
      next.steps = new Map(current.steps);
      next.steps.set(change.step.step, structuredClone(change.step));
    }
    this.#runs.set(pk, next);
    return { run: structuredClone(next.record), events: eventsFor(next, change.events), appended };
  }

  async listEvents(
    auth: AuthContext,
    runId: string,
    page: { after: number; limit: number },
  ): Promise<RunEvent[]> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    if (stored === undefined) return [];
    return structuredClone(stored.events.filter((event) => event.sequence > page.after).slice(0, page.limit));
  }

  async getEvents(auth: AuthContext, runId: string, eventIds: readonly string[]): Promise<RunEvent[]> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    if (stored === undefined) return [];
    return eventIds
      .map((id) => stored.events[(stored.index[id] ?? 0) - 1])
      .filter((event): event is RunEvent => event !== undefined)
      .map((event) => structuredClone(event));
  }

  async readTranscript(
    auth: AuthContext,
    runId: string,
    options: { maxBytes?: number } = {},
  ): Promise<ChatMessage[]> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    if (stored === undefined) return [];
    const messages =
      options.maxBytes === undefined
        ? stored.transcript
        : transcriptTail(stored.transcript, options.maxBytes);
    return structuredClone(messages);
  }

  async listSteps(
    auth: AuthContext,
    runId: string,
    page: { after: number; limit: number },
  ): Promise<StepRecord[]> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    if (stored === undefined) return [];
    return [...stored.steps.values()]
      .filter((step) => step.step > page.after)
      .sort((a, b) => a.step - b.step)
      .slice(0, page.limit)
      .map((step) => structuredClone(step));
  }

  async listRuns(
    auth: AuthContext,
    query: RunListQuery,
  ): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    const before = query.cursor === undefined ? Number.POSITIVE_INFINITY : decodeRunCursor(query.cursor);
    // The index part the query reads (the tenant's, or its principal's), newest first.
    const index = [...this.#runs.values()]
      .filter(
        (stored) =>
          stored.tenant === auth.tenant_id &&
          stored.sortKey < before &&
          (query.principalId === undefined || stored.record.principal_id === query.principalId),
      )
      .sort((a, b) => b.sortKey - a.sortKey);
    // As on DynamoDB: the status filter applies to the entries read, one more match than a page is
    // enough, and at most `maxRunIndexEntriesPerList` entries are examined (HLD §4.2).
    const budget = Math.max(maxRunIndexEntriesPerList, query.limit + 1);
    const matching: StoredRun[] = [];
    let examined = 0;
    while (examined < index.length && examined < budget && matching.length <= query.limit) {
      const stored = index[examined]!;
      examined += 1;
      if (query.status === undefined || stored.record.status === query.status) matching.push(stored);
    }
    // Within one response's bytes: runs that do not fit come on the next page.
    const page = withinPageBytes(matching.slice(0, query.limit), (stored) => stored.record);
    const last = page.at(-1);
    let nextCursor: string | null = null;
    if (matching.length > page.length && last !== undefined) nextCursor = encodeRunCursor(last.sortKey);
    // The bound was reached with fewer matches than a page: continue after the last entry examined.
    else if (examined < index.length && matching.length <= query.limit) {
      nextCursor = encodeRunCursor(index[examined - 1]!.sortKey);
    }
    return { runs: page.map((stored) => structuredClone(stored.record)), nextCursor };
  }

  /** A place in the tenant's run index no other run has, ordered by creation time. */
  #sortKeyFor(tenant: string, createdAt: string): number {
    const taken = new Set(
      [...this.#runs.values()].filter((stored) => stored.tenant === tenant).map((stored) => stored.sortKey),
    );
    for (let tie = 0; tie < 1000; tie += 1) {
      const key = runIndexSortKey(createdAt, this.#created + tie);
      if (!taken.has(key)) {
        this.#created += 1;
        return key;
      }
    }
    throw new DependencyUnavailableError('Too many runs were created in one millisecond');
  }

  /** Appends the events whose ids are not yet stored, with the next sequences; returns how many. */
  #append(stored: StoredRun, events: readonly NewEvent[], time: string): number {
    let appended = 0;
    for (const event of events) {
      if (stored.index[event.event_id] !== undefined) continue;
      const sequence = stored.record.last_sequence + 1;
      stored.record.last_sequence = sequence;
      stored.index[event.event_id] = sequence;
      stored.events.push({
        object: 'event',
        event_id: event.event_id,
        run_id: stored.record.run_id,
        sequence,
        type: event.type,
        time: event.time ?? time,
        data: structuredClone(event.data),
        ...(event.node_id === undefined ? {} : { node_id: event.node_id }),
      } as RunEvent);
      appended += 1;
    }
    return appended;
  }
}

function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

/** For each requested event, the stored one with its id (new or already present), as copies. */
function eventsFor(stored: StoredRun, events: readonly NewEvent[]): RunEvent[] {
  return events
    .map((event) => stored.events[(stored.index[event.event_id] ?? 0) - 1])
    .filter((event): event is RunEvent => event !== undefined)
    .map((event) => structuredClone(event));
}
