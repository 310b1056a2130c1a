import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { BoundedCache } from '../../../shared/cache/bounded-cache.ts';
import { AgentOsError, NotFoundError } from '../../../shared/errors/agentos-error.ts';
import { cancellationCodes, storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { pauseAfterContention } from '../../../shared/timing/contention-backoff.ts';
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

type RunItem = RunRecord & { pk: string; sk: number; kind: 'run'; event_index: Record<string, number> };
type EventItem = Omit<RunEvent, 'object'> & { pk: string; sk: number; kind: 'event'; key: string };

const maxCommitAttempts = 25;
const runFields = [
  'run_id',
  'tenant_id',
  'agent_id',
  'agent_version',
  'mode',
  'execution_arn',
  'principal_id',
  'status',
  'input',
  'output',
  'error',
  'metadata',
  'transcript',
  'steps_completed',
  'last_sequence',
  'usage',
  'created_at',
  'updated_at',
  'started_at',
  'ended_at',
  'scheduled_at',
] as const satisfies readonly (keyof RunRecord)[];

// Every field of a run record is stored and read back; adding a field without listing it fails to compile.
type UnlistedRunFields = Exclude<keyof RunRecord, (typeof runFields)[number]>;
const allRunFieldsListed: UnlistedRunFields extends never ? true : never = true;
void allRunFieldsListed;

function itemBytes(item: RunItem): number {
  return Buffer.byteLength(JSON.stringify(item), 'utf8');
}

function assertFits(item: RunItem): void {
  const bytes = itemBytes(item);
  if (bytes > maxRunRecordBytes) throw new RunTooLargeError(bytes, maxRunRecordBytes);
}

function toRecord(item: RunItem): RunRecord {
  const record: Record<string, unknown> = {};
  for (const field of runFields) record[field] = item[field];
  return record as RunRecord;
}

function toEvent(item: EventItem): RunEvent {
  return {
    object: 'event',
    event_id: item.event_id,
    run_id: item.run_id,
    sequence: item.sequence,
    type: item.type,
    time: item.time,
    data: item.data,
  };
}

/**
 * RunStatePort on one DynamoDB table. A run is the item (`tenant/{t}/runs/{id}`, 0); its events are
 * items (same pk, sequence). Each commit is one transaction: the run item's update, conditional on
 * the expected `last_sequence`, status and absent event ids, plus one put per new event. A process
 * keeps the last run item it saw, so a commit usually costs one round trip; a stale copy only makes
 * the transaction fail its condition, after which the item is read again.
 */
export class DynamoRunStateStore implements RunStatePort {
  // Bounded by count, bytes and age (a run item can hold ~380 KB of transcript); a stale copy only
  // costs a failed condition and a re-read.
  private readonly cache: BoundedCache<string, RunItem>;
  /** Reads under way, by run key; an entry lives only while its request does. */
  private readonly inflightReads = new Map<string, Promise<RunItem | undefined>>();
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;

  /** `now` stamps stored events and ages the cache; the real clock unless a test injects one. */
  constructor(db: DynamoDBDocumentClient, tableName: string, options: { now?: () => Date } = {}) {
    this.db = db;
    this.tableName = tableName;
    this.now = options.now ?? (() => new Date());
    this.cache = new BoundedCache<string, RunItem>({
      maxEntries: 500,
      maxAgeMs: 5 * 60_000,
      maxWeight: 32 * 1024 * 1024,
      weigh: itemBytes,
      now: () => this.now().getTime(),
    });
  }

  async createRun(
    auth: AuthContext,
    run: RunRecord,
    events: NewEvent[],
    claim?: IdempotencyClaim,
  ): Promise<CreateRunResult> {
    const pk = storageKeys.run(auth.tenant_id, run.run_id);
    const time = run.created_at;
    const eventItems = events.map((event, index) =>
      this.eventItem(auth, run.run_id, pk, event, index + 1, time),
    );
    const item: RunItem = {
      ...run,
      last_sequence: events.length,
      pk,
      sk: recordSortKey,
      kind: 'run',
      event_index: Object.fromEntries(eventItems.map((e) => [e.event_id, e.sequence])),
    };
    assertFits(item);
    const idemPk = claim === undefined ? undefined : storageKeys.idempotency(auth.tenant_id, claim.scopeHash);
    for (let attempt = 0; attempt < maxCommitAttempts; attempt += 1) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              ...(claim === undefined || idemPk === undefined
                ? []
                : [
                    {
                      Put: {
                        TableName: this.tableName,
                        Item: {
                          pk: idemPk,
                          sk: recordSortKey,
                          kind: 'idempotency',
                          run_id: run.run_id,
                          request_hash: claim.requestHash,
                          expires_at: claim.expiresAt,
                        },
                        ConditionExpression: 'attribute_not_exists(pk) OR expires_at < :now',
                        ExpressionAttributeValues: { ':now': Math.floor(Date.parse(time) / 1000) },
                      },
                    },
                  ]),
              {
                Put: {
                  TableName: this.tableName,
                  Item: item,
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              ...eventItems.map((e) => ({ Put: { TableName: this.tableName, Item: e } })),
            ],
          }),
        );
        this.cache.set(pk, item);
        this.inflightReads.delete(pk);
        return { outcome: 'created', run: toRecord(item), events: eventItems.map(toEvent) };
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined || claim === undefined || idemPk === undefined)
          throw storageUnavailable(error);
        const existing = await this.get<{ run_id: string; request_hash: string; expires_at: number }>(idemPk);
        if (existing === undefined) {
          await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
          continue;
        }
        if (existing.request_hash !== claim.requestHash) return { outcome: 'key_reused' };
        const stored = await this.getRun(auth, existing.run_id);
        if (stored === undefined) {
          await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
          continue;
        }
        return { outcome: 'replayed', run: stored };
      }
    }
    throw storageUnavailable(new Error('run creation kept conflicting'));
  }

  /**
   * Concurrent reads of one run in this process share a single request (a burst of streams opening
   * on one run makes one read, not hundreds); each caller gets its own copy. A commit in this process
   * drops the shared read, so a caller never gets a state older than a commit this process finished
   * before it asked. A commit by another process is ordered only by the store, as for any two
   * concurrent reads and writes.
   */
  async getRun(auth: AuthContext, runId: string): Promise<RunRecord | undefined> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    const shared = this.inflightReads.get(pk);
    if (shared !== undefined) {
      const item = await shared;
      return item === undefined ? undefined : structuredClone(toRecord(item));
    }
    const started = this.readRunItem(pk).finally(() => {
      if (this.inflightReads.get(pk) === started) this.inflightReads.delete(pk);
    });
    this.inflightReads.set(pk, started);
    const item = await started;
    return item === undefined ? undefined : toRecord(item);
  }

  async commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    let current = this.cache.get(pk);
    let fromCache = current !== undefined;
    if (current === undefined) current = await this.readRunItem(pk);
    for (let attempt = 0; attempt < maxCommitAttempts; attempt += 1) {
      if (current === undefined) throw new NotFoundError(`Run ${runId} was not found`);
      if (!change.requireStatus.includes(current.status)) {
        if (!fromCache) throw new RunStateConflictError(current.status);
        current = await this.readRunItem(pk);
        fromCache = false;
        continue;
      }
      const index = current.event_index;
      const fresh = change.events.filter((event) => index[event.event_id] === undefined);
      if (fresh.length === 0 && change.events.length > 0) {
        return {
          run: toRecord(current),
          events: await this.readEvents(
            pk,
            change.events.map((e) => index[e.event_id] ?? 0),
          ),
          appended: 0,
        };
      }
      const now = this.now().toISOString();
      const newItems = fresh.map((event, i) =>
        this.eventItem(auth, runId, pk, event, current!.last_sequence + i + 1, now),
      );
      const next: RunItem = {
        ...current,
        ...change.changes,
        status: change.status ?? current.status,
        last_sequence: current.last_sequence + fresh.length,
        updated_at: now,
        event_index: { ...index, ...Object.fromEntries(newItems.map((e) => [e.event_id, e.sequence])) },
      };
      assertFits(next);
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              this.runUpdate(current, next, change, newItems),
              ...newItems.map((e) => ({
                Put: { TableName: this.tableName, Item: e, ConditionExpression: 'attribute_not_exists(pk)' },
              })),
            ],
          }),
        );
      } catch (error) {
        if (cancellationCodes(error) === undefined) throw storageUnavailable(error);
        this.cache.delete(pk);
        if (!fromCache) await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
        current = await this.readRunItem(pk);
        fromCache = false;
        continue;
      }
      this.cache.set(pk, next);
      this.inflightReads.delete(pk);
      const byId = new Map(newItems.map((e) => [e.event_id, toEvent(e)]));
      const missing = change.events.filter((e) => !byId.has(e.event_id)).map((e) => index[e.event_id] ?? 0);
      const old = missing.length > 0 ? await this.readEvents(pk, missing) : [];
      const oldById = new Map(old.map((e) => [e.event_id, e]));
      const events = change.events
        .map((e) => byId.get(e.event_id) ?? oldById.get(e.event_id))
        .filter((e): e is RunEvent => e !== undefined);
      return { run: toRecord(next), events, appended: newItems.length };
    }
    throw storageUnavailable(new Error('run commit kept conflicting'));
  }

  async listEvents(
    auth: AuthContext,
    runId: string,
    page: { after: number; limit: number },
  ): Promise<RunEvent[]> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    try {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk > :after',
          ExpressionAttributeValues: { ':pk': pk, ':after': Math.max(page.after, recordSortKey) },
          ConsistentRead: true,
          Limit: page.limit,
        }),
      );
      return (result.Items ?? []).map((item) => toEvent(item as EventItem));
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  private eventItem(
    auth: AuthContext,
    runId: string,
    pk: string,
    event: NewEvent,
    sequence: number,
    time: string,
  ): EventItem {
    return {
      pk,
      sk: sequence,
      kind: 'event',
      key: storageKeys.event(auth.tenant_id, runId, sequence),
      event_id: event.event_id,
      run_id: runId,
      sequence,
      type: event.type,
      time,
      data: event.data,
    };
  }

  private runUpdate(current: RunItem, next: RunItem, change: RunCommit, newItems: EventItem[]) {
    const names: Record<string, string> = {
      '#status': 'status',
      '#last': 'last_sequence',
      '#updated': 'updated_at',
    };
    // DynamoDB rejects names an expression does not use.
    if (newItems.length > 0) names['#index'] = 'event_index';
    const values: Record<string, unknown> = {
      ':prev': current.last_sequence,
      ':next': next.last_sequence,
      ':updated': next.updated_at,
    };
    const sets = ['#last = :next', '#updated = :updated'];
    const conditions = ['#last = :prev'];
    change.requireStatus.forEach((status, i) => {
      values[`:req${i}`] = status;
    });
    conditions.push(`#status IN (${change.requireStatus.map((_, i) => `:req${i}`).join(', ')})`);
    if (change.status !== undefined) {
      values[':status'] = change.status;
      sets.push('#status = :status');
    }
    Object.entries(change.changes ?? {})
      .filter(([, value]) => value !== undefined)
      .forEach(([field, value], i) => {
        names[`#c${i}`] = field;
        values[`:c${i}`] = value;
        sets.push(`#c${i} = :c${i}`);
      });
    newItems.forEach((event, i) => {
      names[`#e${i}`] = event.event_id;
      values[`:e${i}`] = event.sequence;
      sets.push(`#index.#e${i} = :e${i}`);
      conditions.push(`attribute_not_exists(#index.#e${i})`);
    });
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: current.pk, sk: recordSortKey },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  private async readRunItem(pk: string): Promise<RunItem | undefined> {
    const item = await this.get<RunItem>(pk);
    if (item === undefined) this.cache.delete(pk);
    else this.remember(pk, item);
    return item;
  }

  private remember(pk: string, item: RunItem): void {
    this.cache.set(pk, item);
  }

  private async get<T>(pk: string): Promise<T | undefined> {
    try {
      const result = await this.db.send(
        new GetCommand({ TableName: this.tableName, Key: { pk, sk: recordSortKey }, ConsistentRead: true }),
      );
      return result.Item as T | undefined;
    } catch (error) {
      if (error instanceof AgentOsError) throw error;
      throw storageUnavailable(error);
    }
  }

  private async readEvents(pk: string, sequences: number[]): Promise<RunEvent[]> {
    if (sequences.length === 0) return [];
    try {
      const result = await this.db.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: [...new Set(sequences)].map((sk) => ({ pk, sk })),
              ConsistentRead: true,
            },
          },
        }),
      );
      const items = (result.Responses?.[this.tableName] ?? []) as EventItem[];
      const bySequence = new Map(items.map((item) => [item.sk, toEvent(item)]));
      return sequences.map((s) => bySequence.get(s)).filter((e): e is RunEvent => e !== undefined);
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}
