import type { RunStatus } from '../../schemas/run.ts';
import { createHash, randomInt } from 'node:crypto';
import { BatchGetCommand, GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { BatchGetCommandOutput, DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { AttributeValue, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoRateLimiter } from '../../../shared/limits/adapters/dynamo-rate-limiter.ts';
import type { PlannedRateTake } from '../../../shared/limits/adapters/dynamo-rate-limiter.ts';
import type { RateDecision } from '../../../shared/limits/limiter-port.ts';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import { BoundedCache } from '../../../shared/cache/bounded-cache.ts';
import type { ChatMessage } from '../../../shared/contracts/chat.ts';
import {
  AgentOsError,
  DependencyUnavailableError,
  InternalError,
  NotFoundError,
} from '../../../shared/errors/agentos-error.ts';
import { cancellationCodes, storageUnavailable } from '../../../shared/storage/dynamo-errors.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { pauseAfterContention } from '../../../shared/timing/contention-backoff.ts';
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

/** The run item: the record's small fields and where its other items stand. */
type RunItem = RunRecord & {
  pk: string;
  sk: number;
  kind: 'run';
  /** Transcript pieces stored so far (the next one is `transcript_pieces + 1`). */
  transcript_pieces: number;
  /** The run's place in the tenant's run index. */
  index_sk: number;
};
/**
 * The fields of a run that never change after it is created, kept in their own item beside the run
 * item (same pk, sk {@link runBodySortKey}): a commit then rewrites only the small run item, so what
 * a step's commits cost does not grow with the run's input (DynamoDB bills an update by the size of
 * the whole item). A run stored before the split keeps them in its run item.
 */
type BodyItem = Pick<RunRecord, BodyField> & { pk: string; sk: number; kind: 'run-body' };
type BodyField = (typeof bodyFields)[number];
const bodyFields = ['input', 'metadata', 'auth'] as const satisfies readonly (keyof RunRecord)[];
/** Below the run item (0) and the events (1…): one query for `sk <= 0` reads the whole run. */
const runBodySortKey = -1;
type EventItem = Omit<RunEvent, 'object'> & { pk: string; sk: number; kind: 'event'; key: string };
type GuardItem = { pk: string; sk: number; kind: 'event-id'; event_id: string; sequence: number };
/**
 * A piece of a transcript: the messages as JSON lines (`\n`-terminated), cut at a line end unless
 * one message alone outgrows a piece; `head_partial` marks a piece that starts inside a message.
 */
type PieceItem = { pk: string; sk: number; kind: 'transcript'; data: string; head_partial: boolean };
type StepItem = { pk: string; sk: number; kind: 'step'; record: StepRecord };
type IndexItem = {
  pk: string;
  sk: number;
  kind: 'run-index';
  run_id: string;
  status: RunRecord['status'];
  principal_id: string;
  created_at: string;
};

const maxCommitAttempts = 25;
/** DynamoDB's most items in one transaction. */
const maxTransactionItems = 100;
/** Bytes of transcript text per piece, well under DynamoDB's 400 KB per item. */
const maxPieceBytes = 300_000;
const runFields = [
  'run_id',
  'tenant_id',
  'agent_id',
  'agent_version',
  'mode',
  'execution_arn',
  'principal_id',
  'auth',
  'status',
  'input',
  'output',
  'error',
  'metadata',
  'transcript_messages',
  'transcript_bytes',
  'steps_completed',
  'last_sequence',
  'usage',
  'created_at',
  'updated_at',
  'started_at',
  'ended_at',
  'scheduled_at',
  'chain_step',
  'status_reason',
  'federation',
  'replicated_sequence',
] as const satisfies readonly (keyof RunRecord)[];

// Every field of a run record is stored and read back; adding a field without listing it fails to compile.
type UnlistedRunFields = Exclude<keyof RunRecord, (typeof runFields)[number]>;
const allRunFieldsListed: UnlistedRunFields extends never ? true : never = true;
void allRunFieldsListed;

function itemBytes(item: RunItem): number {
  return Buffer.byteLength(JSON.stringify(item), 'utf8');
}

function toRecord(item: RunItem): RunRecord {
  const record: Record<string, unknown> = {};
  // A field newer than the item (`status_reason`, `auth`) stays absent rather than undefined.
  for (const field of runFields) if (item[field] !== undefined) record[field] = item[field];
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
    ...(item.node_id === undefined ? {} : { node_id: item.node_id }),
  };
}

/** A fixed-length key segment for a free-form value (event ids hold model-chosen tool call ids). */
function keyHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 40);
}

/** Cuts UTF-8 text into pieces of at most `max` bytes, never inside a character. */
function cutUtf8(text: string, max: number): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const parts: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + max, bytes.length);
    // Back off continuation bytes (10xxxxxx) so a character is never split.
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
    parts.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return parts;
}

/** The transcript pieces of appended messages: whole lines packed per piece; a longer line is cut. */
function transcriptPieces(messages: readonly ChatMessage[]): { data: string; head_partial: boolean }[] {
  const pieces: { data: string; head_partial: boolean }[] = [];
  let current = '';
  let currentBytes = 0;
  const flush = () => {
    if (current !== '') pieces.push({ data: current, head_partial: false });
    current = '';
    currentBytes = 0;
  };
  for (const message of messages) {
    const line = `${JSON.stringify(message)}\n`;
    const bytes = Buffer.byteLength(line, 'utf8');
    if (bytes > maxPieceBytes) {
      flush();
      cutUtf8(line, maxPieceBytes).forEach((data, i) => pieces.push({ data, head_partial: i > 0 }));
      continue;
    }
    if (currentBytes + bytes > maxPieceBytes) flush();
    current += line;
    currentBytes += bytes;
  }
  flush();
  return pieces;
}

/** The messages of consecutive pieces; text before the first line end is dropped when it starts mid-message. */
function messagesOf(pieces: readonly PieceItem[]): ChatMessage[] {
  let text = pieces.map((piece) => piece.data).join('');
  if (pieces[0]?.head_partial === true) text = text.slice(text.indexOf('\n') + 1);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ChatMessage);
}

/**
 * RunStatePort on one DynamoDB table (HLD §4.2). A run is the item (`tenant/{t}/runs/{id}`, 0) with its
 * small fields, beside a body item (same pk, -1) with the fields that never change (input, metadata,
 * Auth Context), read together by one query; its events are items (same pk, sequence); its transcript is pieces under
 * `…/transcript` (sk = piece number), its step records items under `…/steps` (sk = step), each of its
 * event ids a guard item under `…/event-ids/{hash}`, and the tenant's run index holds one item per
 * run (and one in its principal's part). Each commit is ONE transaction: the run item's update,
 * conditional on the expected `last_sequence`, piece count and status, plus a put per new event and
 * per event-id guard (conditional on the id being new, so a redelivered step's events are
 * deduplicated), the transcript pieces, the step record, and the run-index status when the status
 * changes. So a run is bounded by its agent's limits, not by one item. A process keeps the last run
 * item it saw, so a commit usually costs one round trip; a stale copy or an already-stored event
 * only makes the transaction fail, after which the run item and the guards are read again.
 */
export class DynamoRunStateStore implements RunStatePort {
  // Bounded by count, bytes and age; a stale copy only costs a failed condition and a re-read.
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

  async findIdempotentRun(
    auth: AuthContext,
    claim: IdempotencyClaim,
    at: string,
  ): Promise<ClaimedRun | undefined> {
    const found = await this.claimed(auth, claim, at);
    if (found === 'missing') throw new DependencyUnavailableError('The claimed run is missing');
    return found;
  }

  async createRun(
    auth: AuthContext,
    run: RunRecord,
    events: NewEvent[],
    claim?: IdempotencyClaim,
    rate?: RunCreationRate,
  ): Promise<CreateRunResult> {
    const pk = storageKeys.run(auth.tenant_id, run.run_id);
    const time = run.created_at;
    const eventItems = events.map((event, index) =>
      this.eventItem(auth, run.run_id, pk, event, index + 1, time),
    );
    const record: RunRecord = {
      ...run,
      last_sequence: events.length,
      transcript_messages: 0,
      transcript_bytes: 0,
    };
    assertRecordFits(record);
    const idemPk = claim === undefined ? undefined : storageKeys.idempotency(auth.tenant_id, claim.scopeHash);
    // The run rate rides in the creating transaction when its limiter writes to DynamoDB too (HLD
    // §10.2: a limit checked in the write it guards costs no round trip of its own); another
    // limiter is taken before, unless the claim already answers.
    const rates = rate?.limiter instanceof DynamoRateLimiter ? rate.limiter : undefined;
    let takenAlone: RateDecision | undefined;
    if (rate !== undefined && rates === undefined) {
      const found = claim === undefined ? undefined : await this.claimed(auth, claim, time);
      if (found !== undefined && found !== 'missing') return found;
      takenAlone = await rate.limiter.take(rate.bucket.key, rate.bucket.limit);
      if (!takenAlone.allowed) return { outcome: 'rate_limited', rate: takenAlone };
    }
    let take: PlannedRateTake | undefined =
      rates === undefined || rate === undefined
        ? undefined
        : rates.planTake(rate.bucket.key, rate.bucket.limit);
    let replanned = false;
    // The bucket's re-plan and its take on its own (at most one each) are not attempts: they do not
    // use up the attempts the run has against contention.
    let bucketTurns = 0;
    for (let attempt = 0; attempt < maxCommitAttempts + bucketTurns; attempt += 1) {
      if (take?.kind === 'refused') {
        // Refused without a write; a replay still answers as one, since it takes no run creation.
        const found = claim === undefined ? undefined : await this.claimed(auth, claim, time);
        if (found !== undefined && found !== 'missing') return found;
        return { outcome: 'rate_limited', rate: take.decision };
      }
      const write = take?.kind === 'write' ? take : undefined;
      // A fresh tie-breaker on every attempt, in case another run took this place in the index.
      const item: RunItem = {
        ...record,
        pk,
        sk: recordSortKey,
        kind: 'run',
        transcript_pieces: 0,
        index_sk: runIndexSortKey(time, randomInt(1000)),
      };
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
                  Item: headOf(item),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: bodyOf(item),
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              ...this.indexItems(auth, item).map((index) => ({
                Put: {
                  TableName: this.tableName,
                  Item: index,
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              })),
              ...eventItems.map((e) => ({ Put: { TableName: this.tableName, Item: e } })),
              ...eventItems.map((e) => ({
                Put: { TableName: this.tableName, Item: this.guardItem(auth, e) },
              })),
              // Last, so its cancellation reason is the last one.
              ...(write === undefined ? [] : [{ Update: write.update }]),
            ],
          }),
        );
        this.cache.set(pk, item);
        this.inflightReads.delete(pk);
        const decision = write === undefined ? takenAlone : rates?.tookPlanned(write);
        return {
          outcome: 'created',
          run: toRecord(item),
          events: eventItems.map(toEvent),
          ...(decision === undefined ? {} : { rate: decision }),
        };
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined || !retryableCancellation(codes)) throw storageUnavailable(error);
        const turn =
          write === undefined || rates === undefined || rate === undefined
            ? 'none'
            : this.bucketTurn(error, codes, write, rates, rate, replanned);
        if (turn !== 'none' && typeof turn !== 'string') {
          take = turn;
          replanned = true;
          bucketTurns += 1;
          continue;
        }
        if (turn === 'alone' && rates !== undefined && rate !== undefined) {
          // A same-key creation may have been stored meanwhile: it answers before a token is spent.
          const found = claim === undefined ? undefined : await this.claimed(auth, claim, time);
          if (found !== undefined && found !== 'missing') return found;
          takenAlone = await rates.take(rate.bucket.key, rate.bucket.limit);
          if (!takenAlone.allowed) return { outcome: 'rate_limited', rate: takenAlone };
          take = undefined;
          bucketTurns += 1;
          continue;
        }
        if (claim !== undefined) {
          const found = await this.claimed(auth, claim, time);
          if (found !== undefined && found !== 'missing') return found;
        }
        // Contention on the claim, or another run took this index place: try again, with the take
        // planned afresh (a plan's conditions hold its own moment, which the pause leaves behind).
        await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
        if (write !== undefined && rates !== undefined && rate !== undefined) {
          take = rates.planTake(rate.bucket.key, rate.bucket.limit);
        }
      }
    }
    throw storageUnavailable(new Error('run creation kept conflicting'));
  }

  /**
   * What to do about the run-rate take of a creating transaction that was canceled, when only the
   * take failed (the run's own items would have applied): the bucket moved since this instance saw
   * it, so the take planned once more from what it holds; or it keeps moving, or is inside another
   * call's transaction, so take it on its own, which retries such conflicts, and create without it
   * (`alone`). `none`: the run's own items failed too.
   */
  private bucketTurn(
    error: unknown,
    codes: readonly string[],
    write: Extract<PlannedRateTake, { kind: 'write' }>,
    rates: DynamoRateLimiter,
    rate: RunCreationRate,
    replanned: boolean,
  ): PlannedRateTake | 'alone' | 'none' {
    if (!codes.slice(0, -1).every((code) => code === 'None')) return 'none';
    const rateCode = codes.at(-1);
    const met = (error as TransactionCanceledException).CancellationReasons?.at(-1)?.Item;
    if (rateCode === 'ConditionalCheckFailed' && met !== undefined && !replanned) {
      const seen = rates.sawPlanned(write, unmarshall(met as Record<string, AttributeValue>));
      return rates.planTake(rate.bucket.key, rate.bucket.limit, seen);
    }
    return rateCode === 'ConditionalCheckFailed' || rateCode === 'TransactionConflict' ? 'alone' : 'none';
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

  async getRunStatus(auth: AuthContext, runId: string): Promise<RunStatus | undefined> {
    // The run item alone, without the body item: a run item seen before its body item belongs to a
    // run being created, whose status (`queued`) is what the caller would see next anyway.
    const item = await this.get<{ status: RunStatus }>(storageKeys.run(auth.tenant_id, runId));
    return item?.status;
  }

  async commit(auth: AuthContext, runId: string, change: RunCommit): Promise<CommitResult> {
    const pk = storageKeys.run(auth.tenant_id, runId);
    let current = this.cache.get(pk);
    let fromCache = current !== undefined;
    if (current === undefined) current = await this.readRunItem(pk);
    // Event ids known to be stored, with their sequences; first assumed none (the guards catch it).
    let known = new Map<string, number>();
    for (let attempt = 0; attempt < maxCommitAttempts; attempt += 1) {
      if (current === undefined) throw new NotFoundError(`Run ${runId} was not found`);
      if (!change.requireStatus.includes(current.status)) {
        if (!fromCache) throw new RunStateConflictError(current.status);
        current = await this.readRunItem(pk);
        fromCache = false;
        continue;
      }
      if (change.requireLastSequence !== undefined && current.last_sequence !== change.requireLastSequence) {
        if (!fromCache) throw new RunMovedOnError(current.last_sequence);
        current = await this.readRunItem(pk);
        fromCache = false;
        continue;
      }
      const fresh = change.events.filter((event) => !known.has(event.event_id));
      if (fresh.length === 0 && change.events.length > 0) {
        return {
          run: toRecord(current),
          events: await this.readEvents(
            pk,
            change.events.map((e) => known.get(e.event_id) ?? 0),
          ),
          appended: 0,
        };
      }
      const added = checkCommitSize(change, toRecord(current), fresh);
      const now = this.now().toISOString();
      const newItems = fresh.map((event, i) =>
        this.eventItem(auth, runId, pk, event, current!.last_sequence + i + 1, now),
      );
      const pieces = transcriptPieces(change.appendTranscript ?? []).map((piece, i): PieceItem => ({
        pk: storageKeys.runTranscript(auth.tenant_id, runId),
        sk: current!.transcript_pieces + i + 1,
        kind: 'transcript',
        ...piece,
      }));
      const next: RunItem = {
        ...current,
        ...definedChanges(change.changes),
        status: change.status ?? current.status,
        last_sequence: current.last_sequence + fresh.length,
        transcript_messages: current.transcript_messages + (change.appendTranscript?.length ?? 0),
        transcript_bytes: current.transcript_bytes + added,
        transcript_pieces: current.transcript_pieces + pieces.length,
        updated_at: now,
      };
      assertRecordFits(toRecord(next));
      const statusChanged = change.status !== undefined && change.status !== current.status;
      const writes = [
        this.runUpdate(current, next, change),
        ...newItems.map((e) => ({
          Put: { TableName: this.tableName, Item: e, ConditionExpression: 'attribute_not_exists(pk)' },
        })),
        ...newItems.map((e) => ({
          Put: {
            TableName: this.tableName,
            Item: this.guardItem(auth, e),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        })),
        ...pieces.map((piece) => ({
          Put: { TableName: this.tableName, Item: piece, ConditionExpression: 'attribute_not_exists(pk)' },
        })),
        ...(change.step === undefined
          ? []
          : [{ Put: { TableName: this.tableName, Item: this.stepItem(auth, runId, change.step) } }]),
        ...(statusChanged ? this.indexItems(auth, next).map((index) => this.indexStatusUpdate(index)) : []),
      ];
      if (writes.length > maxTransactionItems) {
        throw new InternalError(
          `One commit would write ${writes.length} items; a transaction holds at most ${maxTransactionItems}`,
        );
      }
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: writes }));
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined || !retryableCancellation(codes)) throw storageUnavailable(error);
        this.cache.delete(pk);
        if (!fromCache) await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
        [current, known] = await Promise.all([
          this.readRunItem(pk),
          this.storedIds(auth, runId, change.events),
        ]);
        fromCache = false;
        continue;
      }
      this.cache.set(pk, next);
      this.inflightReads.delete(pk);
      const byId = new Map(newItems.map((e) => [e.event_id, toEvent(e)]));
      const missing = change.events
        .filter((e) => !byId.has(e.event_id))
        .map((e) => known.get(e.event_id) ?? 0);
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
    const items = await this.query({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk > :after',
      ExpressionAttributeValues: { ':pk': pk, ':after': Math.max(page.after, recordSortKey) },
      ConsistentRead: true,
      Limit: page.limit,
    });
    return items.map((item) => toEvent(item as EventItem));
  }

  async getEvents(auth: AuthContext, runId: string, eventIds: readonly string[]): Promise<RunEvent[]> {
    const known = await this.storedIds(
      auth,
      runId,
      eventIds.map((event_id) => ({ event_id })),
    );
    const pk = storageKeys.run(auth.tenant_id, runId);
    return this.readEvents(
      pk,
      eventIds.filter((id) => known.has(id)).map((id) => known.get(id) ?? 0),
    );
  }

  async readTranscript(
    auth: AuthContext,
    runId: string,
    options: { maxBytes?: number } = {},
  ): Promise<ChatMessage[]> {
    const pk = storageKeys.runTranscript(auth.tenant_id, runId);
    const { maxBytes } = options;
    if (maxBytes === undefined) {
      const pieces = (await this.queryAll({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
      })) as PieceItem[];
      return messagesOf(pieces);
    }
    // Newest pieces first, until they cover `maxBytes` of messages: nothing older can be in the tail.
    const newestFirst: PieceItem[] = [];
    let covered = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.page({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ScanIndexForward: false,
        Limit: 16,
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      });
      for (const piece of page.items as PieceItem[]) {
        newestFirst.push(piece);
        covered += Buffer.byteLength(piece.data, 'utf8') - countLineEnds(piece.data);
        if (covered >= maxBytes) break;
      }
      startKey = covered >= maxBytes ? undefined : page.lastKey;
    } while (startKey !== undefined);
    return transcriptTail(messagesOf(newestFirst.reverse()), maxBytes);
  }

  async listSteps(
    auth: AuthContext,
    runId: string,
    page: { after: number; limit: number },
  ): Promise<StepRecord[]> {
    const items = await this.query({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk > :after',
      ExpressionAttributeValues: { ':pk': storageKeys.runSteps(auth.tenant_id, runId), ':after': page.after },
      ConsistentRead: true,
      Limit: page.limit,
    });
    return items.map((item) => (item as StepItem).record);
  }

  async listRuns(
    auth: AuthContext,
    query: RunListQuery,
  ): Promise<{ runs: RunRecord[]; nextCursor: string | null }> {
    const before = query.cursor === undefined ? undefined : decodeRunCursor(query.cursor);
    const pk =
      query.principalId === undefined
        ? storageKeys.runIndex(auth.tenant_id)
        : storageKeys.runIndexByPrincipal(auth.tenant_id, keyHash(query.principalId));
    const values: Record<string, unknown> = { ':pk': pk };
    if (before !== undefined) values[':before'] = before;
    if (query.status !== undefined) values[':status'] = query.status;
    // One more than a page, to know whether another page follows; with a status filter, index
    // entries are read in larger pages, but at most `maxRunIndexEntriesPerList` in all (HLD §4.2).
    const budget = Math.max(maxRunIndexEntriesPerList, query.limit + 1);
    const found: IndexItem[] = [];
    let examined = 0;
    let startKey: Record<string, unknown> | undefined;
    let bounded = false;
    do {
      const wanted = query.limit + 1 - found.length;
      const page = await this.page({
        TableName: this.tableName,
        KeyConditionExpression: before === undefined ? 'pk = :pk' : 'pk = :pk AND sk < :before',
        ...(query.status === undefined
          ? {}
          : { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }),
        ExpressionAttributeValues: values,
        ConsistentRead: true,
        ScanIndexForward: false,
        Limit: Math.min(budget - examined, query.status === undefined ? wanted : Math.max(wanted, 100)),
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      });
      found.push(...(page.items as IndexItem[]));
      examined += page.scanned;
      startKey = found.length > query.limit ? undefined : page.lastKey;
      if (startKey !== undefined && examined >= budget) {
        bounded = true;
        break;
      }
    } while (startKey !== undefined);
    const entries = found.slice(0, query.limit);
    const items = await this.readRunItems(
      entries.map((entry) => storageKeys.run(auth.tenant_id, entry.run_id)),
    );
    // Within one response's bytes: runs that do not fit come on the next page.
    const runs = withinPageBytes(items.map(toRecord));
    const cut = runs.length < items.length;
    const lastRunId = runs.at(-1)?.run_id;
    const last = cut ? entries.find((entry) => entry.run_id === lastRunId) : entries.at(-1);
    let nextCursor: string | null = null;
    if ((cut || found.length > query.limit) && last !== undefined) nextCursor = encodeRunCursor(last.sk);
    // The bound was reached with fewer matches than a page: continue after the last entry examined.
    else if (bounded && startKey !== undefined) nextCursor = encodeRunCursor(Number(startKey.sk));
    return { runs, nextCursor };
  }

  /** What a live claim says about a creation with `claim` as of `at`; `missing` if its run cannot be read. */
  private async claimed(
    auth: AuthContext,
    claim: IdempotencyClaim,
    at: string,
  ): Promise<ClaimedRun | 'missing' | undefined> {
    const existing = await this.get<{ run_id: string; request_hash: string; expires_at: number }>(
      storageKeys.idempotency(auth.tenant_id, claim.scopeHash),
    );
    if (existing === undefined || existing.expires_at < Math.floor(Date.parse(at) / 1000)) return undefined;
    if (existing.request_hash !== claim.requestHash) return { outcome: 'key_reused' };
    const stored = await this.getRun(auth, existing.run_id);
    return stored === undefined ? 'missing' : { outcome: 'replayed', run: stored };
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
      time: event.time ?? time,
      data: event.data,
      ...(event.node_id === undefined ? {} : { node_id: event.node_id }),
    };
  }

  private guardItem(auth: AuthContext, event: EventItem): GuardItem {
    return {
      pk: storageKeys.runEventId(auth.tenant_id, event.run_id, keyHash(event.event_id)),
      sk: recordSortKey,
      kind: 'event-id',
      event_id: event.event_id,
      sequence: event.sequence,
    };
  }

  private stepItem(auth: AuthContext, runId: string, record: StepRecord): StepItem {
    return { pk: storageKeys.runSteps(auth.tenant_id, runId), sk: record.step, kind: 'step', record };
  }

  /** The run's entries in the tenant's run index and in its principal's part of it. */
  private indexItems(auth: AuthContext, run: RunItem): IndexItem[] {
    const entry = {
      sk: run.index_sk,
      kind: 'run-index' as const,
      run_id: run.run_id,
      status: run.status,
      principal_id: run.principal_id,
      created_at: run.created_at,
    };
    return [
      { pk: storageKeys.runIndex(auth.tenant_id), ...entry },
      { pk: storageKeys.runIndexByPrincipal(auth.tenant_id, keyHash(run.principal_id)), ...entry },
    ];
  }

  private indexStatusUpdate(index: IndexItem) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: index.pk, sk: index.sk },
        UpdateExpression: 'SET #status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': index.status },
      },
    };
  }

  private runUpdate(current: RunItem, next: RunItem, change: RunCommit) {
    const names: Record<string, string> = {
      '#status': 'status',
      '#last': 'last_sequence',
      '#updated': 'updated_at',
      '#pieces': 'transcript_pieces',
      '#messages': 'transcript_messages',
      '#bytes': 'transcript_bytes',
    };
    const values: Record<string, unknown> = {
      ':prev': current.last_sequence,
      ':next': next.last_sequence,
      ':updated': next.updated_at,
      ':prevPieces': current.transcript_pieces,
      ':pieces': next.transcript_pieces,
      ':messages': next.transcript_messages,
      ':bytes': next.transcript_bytes,
    };
    const sets = [
      '#last = :next',
      '#updated = :updated',
      '#pieces = :pieces',
      '#messages = :messages',
      '#bytes = :bytes',
    ];
    const conditions = ['#last = :prev', '#pieces = :prevPieces'];
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

  /** The stored sequences of these event ids (ids not stored are left out). */
  private async storedIds(
    auth: AuthContext,
    runId: string,
    events: readonly { event_id: string }[],
  ): Promise<Map<string, number>> {
    const keys = [...new Set(events.map((e) => e.event_id))].map((id) => ({
      pk: storageKeys.runEventId(auth.tenant_id, runId, keyHash(id)),
      sk: recordSortKey,
    }));
    const guards = (await this.batchGet(keys)) as GuardItem[];
    return new Map(guards.map((guard) => [guard.event_id, guard.sequence]));
  }

  /** The run item and its body item, in one consistent query (`sk <= 0`), merged into one record. */
  private async readRunItem(pk: string): Promise<RunItem | undefined> {
    const items = await this.query({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk <= :head',
      ExpressionAttributeValues: { ':pk': pk, ':head': recordSortKey },
      ConsistentRead: true,
    });
    const item = mergedRun(items);
    if (item === undefined) this.cache.delete(pk);
    else this.cache.set(pk, item);
    return item;
  }

  /** Run items by key, each with its body, in the order asked (missing ones left out). */
  private async readRunItems(pks: readonly string[]): Promise<RunItem[]> {
    const items = await this.batchGet(
      pks.flatMap((pk) => [
        { pk, sk: recordSortKey },
        { pk, sk: runBodySortKey },
      ]),
    );
    const byPk = new Map<string, Record<string, unknown>[]>();
    for (const item of items) byPk.set(String(item['pk']), [...(byPk.get(String(item['pk'])) ?? []), item]);
    return pks
      .map((pk) => mergedRun(byPk.get(pk) ?? []))
      .filter((item): item is RunItem => item !== undefined);
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

  /** Consistent batch reads in chunks of 100 keys, until nothing is left unprocessed. */
  private async batchGet(keys: readonly { pk: string; sk: number }[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let start = 0; start < keys.length; start += 100) {
      let pending: Record<string, unknown>[] | undefined = keys.slice(start, start + 100);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt += 1) {
        if (attempt >= maxCommitAttempts) throw storageUnavailable(new Error('batch read kept throttling'));
        if (attempt > 0) await pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
        try {
          const result: BatchGetCommandOutput = await this.db.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          items.push(...(result.Responses?.[this.tableName] ?? []));
          pending = result.UnprocessedKeys?.[this.tableName]?.Keys;
        } catch (error) {
          throw storageUnavailable(error);
        }
      }
    }
    return items;
  }

  private async page(input: QueryCommandInput): Promise<{
    items: Record<string, unknown>[];
    lastKey: Record<string, unknown> | undefined;
    scanned: number;
  }> {
    try {
      const result = await this.db.send(new QueryCommand(input));
      const items = result.Items ?? [];
      return {
        items,
        lastKey: result.LastEvaluatedKey,
        // Items read before the filter; without the count, as many as the page could have read.
        scanned: result.ScannedCount ?? input.Limit ?? items.length,
      };
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  private async query(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    return (await this.page(input)).items;
  }

  private async queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.page({
        ...input,
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      });
      items.push(...page.items);
      startKey = page.lastKey;
    } while (startKey !== undefined);
    return items;
  }

  private async readEvents(pk: string, sequences: number[]): Promise<RunEvent[]> {
    if (sequences.length === 0) return [];
    const items = (await this.batchGet([...new Set(sequences)].map((sk) => ({ pk, sk })))) as EventItem[];
    const bySequence = new Map(items.map((item) => [item.sk, toEvent(item)]));
    return sequences.map((s) => bySequence.get(s)).filter((e): e is RunEvent => e !== undefined);
  }
}

/** A transaction canceled by a condition or by contention, which a fresh read and a retry can settle. */
function retryableCancellation(codes: readonly string[]): boolean {
  return codes.every((code) => ['None', 'ConditionalCheckFailed', 'TransactionConflict'].includes(code));
}

function countLineEnds(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count += 1;
  return count;
}

/** The fields a commit sets; as in a DynamoDB update, a field given as `undefined` is left as it is. */
function definedChanges(changes: RunCommit['changes']): NonNullable<RunCommit['changes']> {
  return Object.fromEntries(Object.entries(changes ?? {}).filter(([, value]) => value !== undefined));
}

/** The run item as stored: the record without its body fields. */
function headOf(item: RunItem): Omit<RunItem, BodyField> {
  const body = new Set<string>(bodyFields);
  return Object.fromEntries(Object.entries(item).filter(([field]) => !body.has(field))) as Omit<
    RunItem,
    BodyField
  >;
}

function bodyOf(item: RunItem): BodyItem {
  const body: Record<string, unknown> = { pk: item.pk, sk: runBodySortKey, kind: 'run-body' };
  for (const field of bodyFields) if (item[field] !== undefined) body[field] = item[field];
  return body as BodyItem;
}

/**
 * A run from its run item and body item (a run stored before the split has no body item, and its
 * input on the run item). A run item without its input and without a body item is a run still
 * being created, seen by a read that is not part of its transaction (a query or a batch read may
 * see one item of a transaction without the other): not visible yet, like a run not created.
 */
function mergedRun(items: readonly Record<string, unknown>[]): RunItem | undefined {
  const head = items.find((item) => item['sk'] === recordSortKey);
  if (head === undefined) return undefined;
  const body = items.find((item) => item['sk'] === runBodySortKey);
  if (body === undefined && head['input'] === undefined) return undefined;
  if (body === undefined) return head as RunItem;
  const merged: Record<string, unknown> = { ...head };
  for (const field of bodyFields) if (body[field] !== undefined) merged[field] = body[field];
  return merged as RunItem;
}
