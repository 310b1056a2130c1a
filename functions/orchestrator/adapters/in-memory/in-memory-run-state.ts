import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { DependencyUnavailableError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { maxRunRecordBytes, RunStateConflictError, RunTooLargeError } from '../../ports/run-state-port.ts';
import type {
  CommitResult,
  CreateRunResult,
  IdempotencyClaim,
  RunChanges,
  RunCommit,
  RunRecord,
  RunStatePort,
} from '../../ports/run-state-port.ts';
import type { NewEvent, RunEvent } from '../../schemas/event.ts';

/** A run as held here: its record, the index of its event ids, and its events in sequence order. */
type StoredRun = { pk: string; record: RunRecord; index: Record<string, number>; events: RunEvent[] };

type StoredClaim = { runId: string; requestHash: string; expiresAt: number };

/**
 * Throws when the run would not fit, measured as the DynamoDB adapter measures its run item (the
 * record, its storage key and its event index as JSON), so a run is refused at the same size on both.
 */
function assertFits(run: StoredRun): void {
  const item = { ...run.record, pk: run.pk, sk: recordSortKey, kind: 'run', event_index: run.index };
  const bytes = Buffer.byteLength(JSON.stringify(item), 'utf8');
  if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes);
}

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
 * sequences, events deduplicated by `event_id`, and the same size ceiling. Each call is atomic
 * because it does all its reading and writing without yielding. Values are copied in and out, so a
 * caller cannot change what is stored through an object it passed or got back. `now` stamps commits
 * (`updated_at` and event times); creation uses the run's own `created_at`, as on DynamoDB.
 */
export class InMemoryRunStateStore implements RunStatePort {
  readonly #runs = new Map<string, StoredRun>();
  readonly #claims = new Map<string, StoredClaim>();
  readonly #now: () => Date;

  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async createRun(
    auth: AuthContext,
    run: RunRecord,
    events: NewEvent[],
    idempotency?: IdempotencyClaim,
  ): Promise<CreateRunResult> {
    const pk = storageKeys.run(auth.tenant_id, run.run_id);
    const time = run.created_at;
    const stored: StoredRun = {
      pk,
      record: { ...structuredClone(run), last_sequence: 0 },
      index: {},
      events: [],
    };
    this.#append(stored, events, time);
    assertFits(stored);
    const claimKey =
      idempotency === undefined ? undefined : storageKeys.idempotency(auth.tenant_id, idempotency.scopeHash);
    const existing = claimKey === undefined ? undefined : this.#claims.get(claimKey);
    // A claim holds until its expiry; one that has passed it is replaced, as DynamoDB's condition allows.
    if (idempotency !== undefined && existing !== undefined && existing.expiresAt >= epochSeconds(time)) {
      if (existing.requestHash !== idempotency.requestHash) return { outcome: 'key_reused' };
      const claimed = this.#runs.get(storageKeys.run(auth.tenant_id, existing.runId));
      if (claimed === undefined) throw new DependencyUnavailableError('The claimed run is missing');
      return { outcome: 'replayed', run: structuredClone(claimed.record) };
    }
    if (this.#runs.has(pk)) throw new DependencyUnavailableError(`Run ${run.run_id} already exists`);
    this.#runs.set(pk, stored);
    if (idempotency !== undefined && claimKey !== undefined) {
      this.#claims.set(claimKey, {
        runId: run.run_id,
        requestHash: idempotency.requestHash,
        expiresAt: idempotency.expiresAt,
      });
    }
    return {
      outcome: 'created',
      run: structuredClone(stored.record),
      events: structuredClone(stored.events),
    };
  }

  async getRun(auth: AuthContext, runId: string): Promise<RunRecord | undefined> {
    const stored = this.#runs.get(storageKeys.run(auth.tenant_id, runId));
    return stored === undefined ? undefined : structuredClone(stored.record);
  }

  async commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    const current = this.#runs.get(pk);
    if (current === undefined) throw new NotFoundError(`Run ${runId} was not found`);
    if (!change.requireStatus.includes(current.record.status)) {
      throw new RunStateConflictError(current.record.status);
    }
    const fresh = change.events.filter((event) => current.index[event.event_id] === undefined);
    // Every event already stored: a redelivered commit, which changes nothing.
    if (fresh.length === 0 && change.events.length > 0) {
      return { run: structuredClone(current.record), events: eventsFor(current, change.events), appended: 0 };
    }
    const time = this.#now().toISOString();
    const next: StoredRun = {
      pk,
      record: {
        ...current.record,
        ...structuredClone(definedChanges(change.changes)),
        status: change.status ?? current.record.status,
        updated_at: time,
      },
      index: { ...current.index },
      events: [...current.events],
    };
    const appended = this.#append(next, fresh, time);
    assertFits(next);
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
        time,
        data: structuredClone(event.data),
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
