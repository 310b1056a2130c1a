import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { maxRunRecordBytes, RunStateConflictError, RunTooLargeError } from '../../ports/run-state-port.ts';
import type {
  CommitResult,
  CreateRunResult,
  IdempotencyClaim,
  RunCommit,
  RunRecord,
  RunStatePort,
} from '../../ports/run-state-port.ts';
import type { NewEvent, RunEvent } from '../../schemas/event.ts';

type StoredRun = { record: RunRecord; events: RunEvent[]; index: Map<string, number> };

function bytesOf(run: RunRecord, index: Map<string, number>): number {
  return Buffer.byteLength(JSON.stringify({ ...run, event_index: Object.fromEntries(index) }), 'utf8');
}

/**
 * RunStatePort held in this process, for the unit tier and single-process tools: the same rules as
 * the DynamoDB adapter (tenant-scoped runs, idempotent creation, commits conditional on status,
 * gapless sequences, events deduplicated by id, the same size ceiling), each call atomic because
 * nothing else runs between its reads and writes. Values are copied in and out.
 */
export class InMemoryRunStateStore implements RunStatePort {
  readonly #runs = new Map<string, StoredRun>();
  readonly #claims = new Map<string, { runId: string; requestHash: string; expiresAt: number }>();
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
    const time = this.#now().toISOString();
    const claimKey = idempotency === undefined ? undefined : `${auth.tenant_id}/${idempotency.scopeHash}`;
    if (idempotency !== undefined && claimKey !== undefined) {
      const existing = this.#claims.get(claimKey);
      if (existing !== undefined && existing.expiresAt >= Math.floor(Date.parse(time) / 1000)) {
        if (existing.requestHash !== idempotency.requestHash) return { outcome: 'key_reused' };
        const stored = this.#runs.get(this.#key(auth, existing.runId));
        if (stored !== undefined) return { outcome: 'replayed', run: structuredClone(stored.record) };
      }
    }
    const key = this.#key(auth, run.run_id);
    if (this.#runs.has(key)) throw new Error(`Run ${run.run_id} already exists`);
    const stored: StoredRun = {
      record: { ...structuredClone(run), last_sequence: 0 },
      events: [],
      index: new Map(),
    };
    this.#append(auth, stored, events, time);
    const bytes = bytesOf(stored.record, stored.index);
    if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes);
    this.#runs.set(key, stored);
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
    const stored = this.#runs.get(this.#key(auth, runId));
    return stored === undefined ? undefined : structuredClone(stored.record);
  }

  async commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    const stored = this.#runs.get(this.#key(auth, runId));
    if (stored === undefined) throw new NotFoundError(`Run ${runId} was not found`);
    if (!change.requireStatus.includes(stored.record.status)) {
      throw new RunStateConflictError(stored.record.status);
    }
    const fresh = change.events.filter((event) => !stored.index.has(event.event_id));
    if (fresh.length === 0 && change.events.length > 0) {
      return {
        run: structuredClone(stored.record),
        events: this.#eventsFor(stored, change.events),
        appended: 0,
      };
    }
    const time = this.#now().toISOString();
    const next: StoredRun = {
      record: {
        ...stored.record,
        ...structuredClone(change.changes ?? {}),
        status: change.status ?? stored.record.status,
        updated_at: time,
      },
      events: [...stored.events],
      index: new Map(stored.index),
    };
    this.#append(auth, next, fresh, time);
    const bytes = bytesOf(next.record, next.index);
    if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes);
    this.#runs.set(this.#key(auth, runId), next);
    return {
      run: structuredClone(next.record),
      events: this.#eventsFor(next, change.events),
      appended: fresh.length,
    };
  }

  async listEvents(
    auth: AuthContext,
    runId: string,
    page: { after: number; limit: number },
  ): Promise<RunEvent[]> {
    const stored = this.#runs.get(this.#key(auth, runId));
    if (stored === undefined) return [];
    return structuredClone(stored.events.filter((event) => event.sequence > page.after).slice(0, page.limit));
  }

  #key(auth: AuthContext, runId: string): string {
    return `${auth.tenant_id}/${runId}`;
  }

  #append(auth: AuthContext, stored: StoredRun, events: readonly NewEvent[], time: string): void {
    for (const event of events) {
      if (stored.index.has(event.event_id)) continue;
      const sequence = stored.record.last_sequence + 1;
      stored.record.last_sequence = sequence;
      stored.index.set(event.event_id, sequence);
      stored.events.push({
        object: 'event',
        event_id: event.event_id,
        run_id: stored.record.run_id,
        sequence,
        type: event.type,
        time,
        data: structuredClone(event.data),
      } as RunEvent);
    }
  }

  #eventsFor(stored: StoredRun, events: readonly NewEvent[]): RunEvent[] {
    return events
      .map((event) => stored.events[(stored.index.get(event.event_id) ?? 0) - 1])
      .filter((event): event is RunEvent => event !== undefined)
      .map((event) => structuredClone(event));
  }
}
