import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AttributeValue, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  cancellationCodes,
  isConditionFailure,
  storageUnavailable,
} from '../../../shared/storage/dynamo-errors.ts';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type {
  DynamoRateLimiter,
  PlannedRateTake,
} from '../../../shared/limits/adapters/dynamo-rate-limiter.ts';
import type { RateBucket } from '../../../shared/limits/limiter-port.ts';
import { recordSortKey, storageKeys } from '../../../shared/storage/keys.ts';
import { pauseAfterContention } from '../../../shared/timing/contention-backoff.ts';
import { principalKey, principalSortKey, requestKey, runKey } from '../../metering/attribution-keys.ts';
import type { UsageRecord } from '../../schemas/usage-record.ts';
import type {
  AggregateTargets,
  Amount,
  BudgetCounters,
  BudgetLine,
  CallSettlement,
  ClaimOutcome,
  ClaimReservationOutcome,
  LedgerPort,
  RequestClaim,
  ReserveOutcome,
} from '../../ports/ledger-port.ts';
import { assertChargesOnlyWithRecord } from '../../ports/ledger-port.ts';
import { decodeStoredCall, encodeStoredCall } from './ledger-items.ts';
import type { BudgetItem, HeldReservation, RequestItem } from './ledger-items.ts';

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

const maxClaimAttempts = 5;
const maxSettleAttempts = 6;

/** A DynamoDB client request token (≤ 36 characters) derived from a claim's token and a purpose. */
function requestToken(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 36);
}

/** Cancellation reasons that mean "lost a race or a condition", never "the store is unwell". */
const contendedCodes = new Set(['None', 'ConditionalCheckFailed', 'TransactionConflict']);

function pause(attempt: number): Promise<void> {
  return pauseAfterContention(attempt, { baseMs: 5, maxMs: 200 });
}

/** Whether another attempt may take a request item over: its lease lapsed, or its retention ended. */
function isLapsed(item: RequestItem, nowMs: number): boolean {
  return (
    item.expires_at < Math.floor(nowMs / 1000) || (item.status === 'in_flight' && item.lease_until < nowMs)
  );
}

const lapsedCondition = '(expires_at < :now_s OR (#status = :in_flight AND lease_until < :now_ms))';

/**
 * LedgerPort on the node's DynamoDB table. Budgets are counters of committed (= spent + reserved)
 * tokens and nano-USD; a reservation is an `ADD` conditioned on `committed <= limit - amount`, the
 * limit coming from the tenant's current policy, so the store enforces every limit atomically and a
 * changed limit applies at once. Every write that moves counters is a transaction carrying a client
 * request token, so neither a concurrent retry nor an SDK retry can apply it twice. A reservation is
 * recorded on the request item in the same transaction, so taking over a lapsed claim releases it.
 * A settlement also applies once long after its token's ten minutes (one replayed from the
 * settlement queue): its usage record is written with the claim's token and refused to that
 * settlement's second write, which then changes nothing.
 */
export class DynamoLedger implements LedgerPort {
  readonly #db: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #rates: DynamoRateLimiter | undefined;

  /**
   * `rateLimiter`: the limiter whose buckets (in the same table) a claim and reservation take from
   * in their own transaction, sharing what it knows of each bucket.
   */
  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    options: { rateLimiter?: DynamoRateLimiter } = {},
  ) {
    this.#db = db;
    this.#tableName = tableName;
    this.#rates = options.rateLimiter;
  }

  async claim(tenantId: string, claim: RequestClaim): Promise<ClaimOutcome> {
    const item = this.#claimItem(tenantId, claim);
    for (let attempt = 0; attempt < maxClaimAttempts; attempt += 1) {
      try {
        await this.#db.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: item,
            ...this.#claimCondition(claim),
          }),
        );
        return { outcome: 'claimed' };
      } catch (error) {
        if (!isConditionFailure(error)) throw storageUnavailable(error);
      }
      const found = await this.#claimTaken(item, claim, await this.#get<RequestItem>(item.pk));
      if (found !== 'retry') return found;
    }
    throw storageUnavailable(new Error('request claim kept conflicting'));
  }

  async claimAndReserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    rate?: RateBucket,
  ): Promise<ClaimReservationOutcome> {
    const rates = rate === undefined ? undefined : this.#rates;
    if (lines.length === 0 && rates === undefined) {
      const claimed = await this.claim(tenantId, claim);
      return claimed.outcome === 'claimed' ? { outcome: 'reserved' } : claimed;
    }
    const updates = lines.map((line) => this.#reserveUpdate(tenantId, line, amount));
    if (updates.some((update) => update === undefined)) return { outcome: 'no_room' };
    const held: HeldReservation = {
      budget_keys: lines.map((line) => this.#budgetKey(tenantId, line)),
      tokens: amount.tokens,
      nano: amount.nano,
      attempt: 0,
    };
    const claimItem = this.#claimItem(tenantId, claim);
    const item: RequestItem = lines.length === 0 ? claimItem : { ...claimItem, reservation: held };
    // The tenant's request-rate bucket rides in the same transaction (HLD §10.2): the common call
    // takes its claim, its budget room and its place in the rate in one round trip.
    let take: PlannedRateTake | undefined =
      rate === undefined ? undefined : rates?.planTake(rate.key, rate.limit);
    const rateIndex = 1 + updates.length;
    let replanned = false;
    // The bucket's re-plan and its drop (at most one each) are not attempts: they do not use up
    // the attempts the claim and budgets have against contention.
    let bucketTurns = 0;
    for (let attempt = 0; attempt < maxClaimAttempts + bucketTurns; attempt += 1) {
      if (take?.kind === 'refused') return { outcome: 'rate_limited', rate: take.decision };
      const write = take?.kind === 'write' ? take : undefined;
      try {
        // The claim is a Put inside the reservation's transaction (HLD §5.3): one round trip takes the
        // request id and the budget room, or neither. A conflicting claim hands back the item it met
        // (ALL_OLD), so a replay is answered without a read.
        await this.#db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.#tableName,
                  Item: item,
                  ...this.#claimCondition(claim),
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              ...updates.map((update) => ({ Update: update! })),
              ...(write === undefined ? [] : [{ Update: write.update }]),
            ],
            // A different take is a different write: it must not pass for a retry of the last one.
            ClientRequestToken: requestToken(
              `claim-reserve:${claim.token}${write === undefined ? '' : `:${write.id}`}`,
            ),
          }),
        );
        return write === undefined
          ? { outcome: 'reserved' }
          : { outcome: 'reserved', rate: rates!.tookPlanned(write) };
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined) throw storageUnavailable(error);
        const reasons = (error as TransactionCanceledException).CancellationReasons;
        if (codes[0] === 'ConditionalCheckFailed') {
          const met = reasons?.[0]?.Item;
          const existing =
            met === undefined
              ? await this.#get<RequestItem>(item.pk)
              : (unmarshall(met as Record<string, AttributeValue>) as RequestItem);
          if (existing?.claim_token === claim.token) {
            // This very write applied before (a retry the store did not recognise by its token),
            // its take of the bucket with it.
            if (lines.length > 0 && existing.reservation?.attempt !== 0) return { outcome: 'claimed' };
            return write === undefined
              ? { outcome: 'reserved' }
              : { outcome: 'reserved', rate: rates!.tookPlanned(write) };
          }
          const found = await this.#claimTaken(claimItem, claim, existing);
          if (found !== 'retry') return found;
          continue;
        }
        if (!codes.every((code) => contendedCodes.has(code))) throw storageUnavailable(error);
        const budgetsHeld = codes.slice(1, rateIndex).every((code) => code === 'None');
        if (write !== undefined && budgetsHeld && codes[0] === 'None') {
          const rateCode = codes[rateIndex];
          const met = reasons?.[rateIndex]?.Item;
          if (rateCode === 'ConditionalCheckFailed' && met !== undefined && !replanned) {
            // The bucket moved since this instance last saw it (another instance took from it, or
            // it went idle or busy): plan once more from what it holds.
            const seen = rates!.sawPlanned(write, unmarshall(met as Record<string, AttributeValue>));
            take = rates!.planTake(rate!.key, rate!.limit, seen);
            replanned = true;
            bucketTurns += 1;
            continue;
          }
          if (rateCode === 'ConditionalCheckFailed' || rateCode === 'TransactionConflict') {
            // Still moving under other calls (a bucket near idle flips between idle and busy faster
            // than a round trip), the store did not say what it holds, or the bucket is inside
            // another call's transaction (two transactions on one item conflict whatever their
            // conditions): the claim and reservation go on without it, and the caller takes it
            // on its own, which retries such a conflict.
            take = undefined;
            bucketTurns += 1;
            continue;
          }
        }
        // The request id was free but a budget line refused or was contended: nothing was written,
        // and the caller reads the counters and sizes the reservation to what remains.
        if (codes[0] !== 'TransactionConflict' && !(write !== undefined && budgetsHeld)) {
          return { outcome: 'no_room' };
        }
        await pause(attempt);
      }
    }
    throw storageUnavailable(new Error('request claim kept conflicting'));
  }

  async readBudgets(tenantId: string, lines: readonly BudgetLine[]): Promise<BudgetCounters[]> {
    if (lines.length === 0) return [];
    const keys = lines.map((line) => ({ pk: this.#budgetKey(tenantId, line), sk: recordSortKey }));
    const found = new Map<string, BudgetItem>();
    let pending: Record<string, unknown>[] = keys;
    try {
      for (let attempt = 0; pending.length > 0 && attempt < 8; attempt += 1) {
        const result = await this.#db.send(
          new BatchGetCommand({
            RequestItems: { [this.#tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of result.Responses?.[this.#tableName] ?? []) found.set(item['pk'] as string, item);
        pending = result.UnprocessedKeys?.[this.#tableName]?.Keys ?? [];
        if (pending.length > 0) await pause(attempt);
      }
    } catch (error) {
      throw storageUnavailable(error);
    }
    if (pending.length > 0) throw storageUnavailable(new Error('budget counters could not all be read'));
    return keys.map(({ pk }) => {
      const item = found.get(pk) ?? {};
      return {
        spentTokens: item.spent_tokens ?? 0,
        spentNano: item.spent_nano ?? 0,
        reservedTokens: item.reserved_tokens ?? 0,
        reservedNano: item.reserved_nano ?? 0,
      };
    });
  }

  async reserve(
    tenantId: string,
    claim: RequestClaim,
    lines: readonly BudgetLine[],
    amount: Amount,
    attempt: number,
  ): Promise<ReserveOutcome> {
    const updates = lines.map((line) => this.#reserveUpdate(tenantId, line, amount));
    if (updates.some((update) => update === undefined)) return 'no_room';
    const requestPk = storageKeys.modelRequest(tenantId, claim.requestKey);
    const held: HeldReservation = {
      budget_keys: lines.map((line) => this.#budgetKey(tenantId, line)),
      tokens: amount.tokens,
      nano: amount.nano,
      attempt,
    };
    const recordOnClaim: TransactItem = {
      Update: {
        TableName: this.#tableName,
        Key: { pk: requestPk, sk: recordSortKey },
        UpdateExpression: 'SET reservation = :held',
        ConditionExpression:
          'claim_token = :token AND #status = :in_flight AND attribute_not_exists(reservation)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':held': held, ':token': claim.token, ':in_flight': 'in_flight' },
      },
    };
    try {
      // Always a transaction, even for one line: its request token makes an SDK retry of a write
      // that applied (the answer lost on the way) apply once, where a plain update would add twice.
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: [recordOnClaim, ...updates.map((update) => ({ Update: update! }))],
          ClientRequestToken: requestToken(`reserve:${claim.token}:${attempt}`),
        }),
      );
      return 'reserved';
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes === undefined) throw storageUnavailable(error);
      if (codes[0] === 'ConditionalCheckFailed') {
        // Either a later attempt took the claim over, or this very write applied before (a retry
        // the store did not recognise by its token): the claim tells which.
        const current = await this.#get<RequestItem>(requestPk);
        const ours = current?.claim_token === claim.token && current.reservation?.attempt === attempt;
        return ours ? 'reserved' : 'claim_lost';
      }
      if (codes.every((code) => contendedCodes.has(code))) return 'no_room';
      throw storageUnavailable(error);
    }
  }

  async settle(tenantId: string, settlement: CallSettlement): Promise<void> {
    assertChargesOnlyWithRecord(settlement);
    let includeRequest = true;
    for (let attempt = 0; attempt < maxSettleAttempts; attempt += 1) {
      const items = this.#settlementItems(tenantId, settlement, includeRequest);
      // The record's write is the settlement's own: it is refused once this settlement applied.
      const recordIndex = settlement.record === undefined ? -1 : includeRequest ? 1 : 0;
      // A release without a record whose claim was taken over (which released its reservation)
      // has nothing left to write.
      if (items.length === 0) return;
      try {
        await this.#db.send(
          new TransactWriteCommand({
            TransactItems: items,
            ClientRequestToken: requestToken(`settle:${settlement.claim.token}:${includeRequest}`),
          }),
        );
        return;
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes === undefined) throw storageUnavailable(error);
        // Applied before: a retry whose first write landed although it seemed to fail, or a
        // settlement replayed from the settlement queue, long after the request token's window.
        if (recordIndex >= 0 && codes[recordIndex] === 'ConditionalCheckFailed') return;
        if (includeRequest && codes[0] === 'ConditionalCheckFailed') {
          // Another attempt took the request id over after our lease ran out, releasing our
          // reservation: it owns the stored response, but what this attempt consumed is still billed.
          // (Or the request item expired before a late replay: its reservation then stays counted
          // until the budget's period ends, never released twice.)
          // (Or a claim released without budgets holds a reservation after all: it stays for the
          // takeover to release, and the record is still written.)
          includeRequest = false;
          continue;
        }
        if (!codes.includes('TransactionConflict')) throw storageUnavailable(error);
        await pause(attempt);
      }
    }
    throw storageUnavailable(new Error('settlement kept conflicting'));
  }

  // A refusal's record is keyed by its time, like an attempt's by its claim's: the two share a key
  // only for the same principal and request id in the same millisecond, where the later write wins.
  async recordRefusal(tenantId: string, record: UsageRecord): Promise<void> {
    try {
      await this.#db.send(
        new PutCommand({ TableName: this.#tableName, Item: this.#recordItem(tenantId, record) }),
      );
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  async requestAbort(auth: AuthContext, requestId: string): Promise<boolean> {
    try {
      // Only the claim item of this tenant and principal, and only while its call is in flight: a
      // completed or released request id has nothing to stop.
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: this.#requestPk(auth, requestId), sk: recordSortKey },
          UpdateExpression: 'SET abort_requested = :yes',
          ConditionExpression: 'attribute_exists(pk) AND #status = :in_flight',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':yes': true, ':in_flight': 'in_flight' },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw storageUnavailable(error);
    }
  }

  async abortRequested(auth: AuthContext, requestId: string): Promise<boolean> {
    const item = await this.#get<RequestItem>(this.#requestPk(auth, requestId));
    return item?.status === 'in_flight' && item.abort_requested === true;
  }

  /** The request item a fresh claim writes. */
  #claimItem(tenantId: string, claim: RequestClaim): RequestItem {
    return {
      pk: storageKeys.modelRequest(tenantId, claim.requestKey),
      sk: recordSortKey,
      kind: 'model-request',
      request_id: claim.requestId,
      principal_id: claim.principalId,
      fingerprint: claim.fingerprint,
      status: 'in_flight',
      claim_token: claim.token,
      lease_until: claim.leaseUntil,
      expires_at: claim.expiresAt,
    };
  }

  /**
   * The condition of a fresh claim: no request item, or a lapsed one holding no reservation (a lapsed
   * item holding one is taken over by {@link DynamoLedger.#takeOver}, releasing it in the same write).
   */
  #claimCondition(claim: RequestClaim) {
    return {
      ConditionExpression: `attribute_not_exists(pk) OR (attribute_not_exists(reservation) AND ${lapsedCondition})`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: this.#lapsedValues(claim),
    };
  }

  #lapsedValues(claim: RequestClaim): Record<string, unknown> {
    return { ':in_flight': 'in_flight', ':now_ms': claim.now, ':now_s': Math.floor(claim.now / 1000) };
  }

  /**
   * What a claim that met an existing request item finds: the item's stored call, a reuse or a call
   * in progress; `claimed` once a lapsed item was taken over; `retry` when the item went away
   * meanwhile, or another attempt took it over first.
   */
  async #claimTaken(
    item: RequestItem,
    claim: RequestClaim,
    existing: RequestItem | undefined,
  ): Promise<ClaimOutcome | 'retry'> {
    // Released between our write and our read: try to claim again.
    if (existing === undefined) return 'retry';
    if (isLapsed(existing, claim.now)) {
      return (await this.#takeOver(item, existing, this.#lapsedValues(claim)))
        ? { outcome: 'claimed' }
        : 'retry';
    }
    if (existing.fingerprint !== claim.fingerprint) return { outcome: 'reused' };
    if (existing.status === 'completed' && existing.response !== undefined) {
      return { outcome: 'replay', call: decodeStoredCall(existing.response) };
    }
    return existing.status === 'in_flight'
      ? { outcome: 'in_progress', leaseUntil: existing.lease_until }
      : { outcome: 'in_progress' };
  }

  #requestPk(auth: AuthContext, requestId: string): string {
    return storageKeys.modelRequest(auth.tenant_id, requestKey(auth.principal.id, requestId));
  }

  /**
   * Takes a lapsed request item over and releases the reservation it recorded, in one transaction
   * conditioned on the item still being that lapsed claim. False when another attempt was quicker.
   */
  async #takeOver(
    item: RequestItem,
    lapsed: RequestItem,
    lapsedValues: Record<string, unknown>,
  ): Promise<boolean> {
    const held = lapsed.reservation;
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: `claim_token = :lapsed_token AND ${lapsedCondition}`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ...lapsedValues, ':lapsed_token': lapsed.claim_token },
        },
      },
      ...(held?.budget_keys ?? []).map((key): TransactItem => ({
        Update: {
          TableName: this.#tableName,
          Key: { pk: key, sk: recordSortKey },
          UpdateExpression:
            'ADD reserved_tokens :rt, reserved_nano :rn, committed_tokens :rt, committed_nano :rn',
          ExpressionAttributeValues: { ':rt': -held!.tokens, ':rn': -held!.nano },
        },
      })),
    ];
    try {
      await this.#db.send(
        new TransactWriteCommand({
          TransactItems: items,
          ClientRequestToken: requestToken(`takeover:${item.claim_token}:${lapsed.claim_token}`),
        }),
      );
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.every((code) => contendedCodes.has(code))) return false;
      throw storageUnavailable(error);
    }
  }

  #budgetKey(tenantId: string, line: BudgetLine): string {
    return storageKeys.budget(tenantId, line.scopeKey, line.periodKey);
  }

  /** The conditional reservation of one line, or undefined when the amount exceeds a limit outright. */
  #reserveUpdate(tenantId: string, line: BudgetLine, amount: Amount) {
    const conditions: string[] = [];
    const values: Record<string, unknown> = {
      ':rt': amount.tokens,
      ':rn': amount.nano,
      ':key': this.#budgetKey(tenantId, line),
      ':tenant': tenantId,
      ':scope': line.scope,
      ':period': line.period,
      ':period_key': line.periodKey,
      ':kind': 'budget',
      ':exp': line.expiresAt ?? 0,
    };
    if (line.limitTokens !== undefined) {
      const ceiling = line.limitTokens - amount.tokens;
      if (ceiling < 0) return undefined;
      conditions.push('(attribute_not_exists(committed_tokens) OR committed_tokens <= :ceil_t)');
      values[':ceil_t'] = ceiling;
    }
    if (line.limitNano !== undefined) {
      const ceiling = line.limitNano - amount.nano;
      if (ceiling < 0) return undefined;
      conditions.push('(attribute_not_exists(committed_nano) OR committed_nano <= :ceil_n)');
      values[':ceil_n'] = ceiling;
    }
    return {
      TableName: this.#tableName,
      Key: { pk: this.#budgetKey(tenantId, line), sk: recordSortKey },
      UpdateExpression:
        'SET #key = :key, tenant_id = :tenant, #scope = :scope, #period = :period, period_key = :period_key, #kind = :kind, expires_at = :exp ' +
        'ADD reserved_tokens :rt, reserved_nano :rn, committed_tokens :rt, committed_nano :rn',
      ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
      ExpressionAttributeNames: { '#key': 'key', '#scope': 'scope', '#period': 'period', '#kind': 'kind' },
      ExpressionAttributeValues: values,
    };
  }

  #settlementItems(tenantId: string, settlement: CallSettlement, includeRequest: boolean): TransactItem[] {
    const items: TransactItem[] = [];
    const requestPk = storageKeys.modelRequest(tenantId, settlement.claim.requestKey);
    const budgets = settlement.budgets;
    if (includeRequest) {
      const values = { ':token': settlement.claim.token };
      if (settlement.request.kind === 'complete') {
        items.push({
          Update: {
            TableName: this.#tableName,
            Key: { pk: requestPk, sk: recordSortKey },
            UpdateExpression: 'SET #status = :completed, #response = :response REMOVE reservation',
            // Removing the record of a reservation is only right when this settlement releases it;
            // without budgets, a held reservation stays for the takeover to release.
            ConditionExpression:
              budgets === undefined
                ? 'claim_token = :token AND attribute_not_exists(reservation)'
                : 'claim_token = :token',
            ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
            ExpressionAttributeValues: {
              ...values,
              ':completed': 'completed',
              ':response': encodeStoredCall(settlement.request.call),
            },
          },
        });
      } else {
        items.push({
          Delete: {
            TableName: this.#tableName,
            Key: { pk: requestPk, sk: recordSortKey },
            // Without a reservation to release here, the claim is freed only if it holds none: a
            // reservation that applied although its write reported a failure is released at takeover.
            ConditionExpression:
              budgets === undefined
                ? 'claim_token = :token AND attribute_not_exists(reservation)'
                : 'claim_token = :token',
            ExpressionAttributeValues: values,
          },
        });
      }
    }
    // A call refused by its tenant's request rate has no record (HLD §10.2): its release leaves
    // usage records and aggregates untouched.
    if (settlement.record !== undefined) {
      items.push({
        Put: {
          TableName: this.#tableName,
          // The record carries the claim token of the settlement that wrote it, and is refused to
          // that settlement's second write: a settlement applies once however often it is written
          // (HLD §5.3), where a request token is honoured for ten minutes only.
          Item: {
            ...this.#recordItem(tenantId, settlement.record, settlement.claim.now),
            settlement_token: settlement.claim.token,
          },
          ConditionExpression: 'attribute_not_exists(settlement_token) OR settlement_token <> :settled_by',
          ExpressionAttributeValues: { ':settled_by': settlement.claim.token },
        },
      });
    }
    if (budgets !== undefined) {
      // After a takeover the reservation is released already: only the charge remains to apply.
      const released = includeRequest ? budgets.reserved : { tokens: 0, nano: 0 };
      const { charged } = budgets;
      const moves =
        released.tokens !== 0 || released.nano !== 0 || charged.tokens !== 0 || charged.nano !== 0;
      for (const line of moves ? budgets.lines : []) {
        items.push({
          Update: {
            TableName: this.#tableName,
            Key: { pk: this.#budgetKey(tenantId, line), sk: recordSortKey },
            UpdateExpression:
              'ADD reserved_tokens :rt, reserved_nano :rn, spent_tokens :ct, spent_nano :cn, committed_tokens :dt, committed_nano :dn',
            ExpressionAttributeValues: {
              ':rt': -released.tokens,
              ':rn': -released.nano,
              ':ct': charged.tokens,
              ':cn': charged.nano,
              ':dt': charged.tokens - released.tokens,
              ':dn': charged.nano - released.nano,
            },
          },
        });
      }
    }
    if (settlement.record !== undefined && settlement.aggregate !== undefined)
      items.push(...this.#aggregateItems(tenantId, settlement.record, settlement.aggregate));
    return items;
  }

  #aggregateItems(tenantId: string, record: UsageRecord, targets: AggregateTargets): TransactItem[] {
    const counters = {
      ':one': 1,
      ':p': record.prompt_tokens,
      ':c': record.completion_tokens,
      ':n': record.cost_nano,
      ':tenant': tenantId,
    };
    const add = 'ADD #calls :one, prompt_tokens :p, completion_tokens :c, cost_nano :n';
    const items: TransactItem[] = [];
    for (const { window, date } of targets.windows) {
      const pk = storageKeys.usage(tenantId, window, date);
      items.push({
        Update: {
          TableName: this.#tableName,
          Key: { pk, sk: recordSortKey },
          UpdateExpression: `SET #key = :key, tenant_id = :tenant, #window = :window, #date = :date ${add}`,
          ExpressionAttributeNames: {
            '#key': 'key',
            '#window': 'window',
            '#date': 'date',
            '#calls': 'calls',
          },
          ExpressionAttributeValues: { ...counters, ':key': pk, ':window': window, ':date': date },
        },
      });
      items.push({
        Update: {
          TableName: this.#tableName,
          Key: { pk, sk: principalSortKey(targets.principalId) },
          UpdateExpression: `SET #key = :key, tenant_id = :tenant, principal_id = :principal ${add}`,
          ExpressionAttributeNames: { '#key': 'key', '#calls': 'calls' },
          ExpressionAttributeValues: {
            ...counters,
            ':key': storageKeys.usageByPrincipal(tenantId, window, date, principalKey(targets.principalId)),
            ':principal': targets.principalId,
          },
        },
      });
    }
    if (targets.runId !== undefined) {
      const pk = storageKeys.usageByRun(tenantId, runKey(targets.runId));
      items.push({
        Update: {
          TableName: this.#tableName,
          Key: { pk, sk: recordSortKey },
          UpdateExpression: `SET #key = :key, tenant_id = :tenant, run_id = :run ${add}`,
          ExpressionAttributeNames: { '#key': 'key', '#calls': 'calls' },
          ExpressionAttributeValues: { ...counters, ':key': pk, ':run': targets.runId },
        },
      });
      // Each principal's share of the run apart, so a member without usage:read:all reads only its
      // own calls of a run (HLD §5.2): run ids are the caller's attribution, not owned by anyone.
      items.push({
        Update: {
          TableName: this.#tableName,
          Key: { pk, sk: principalSortKey(targets.principalId) },
          UpdateExpression: `SET #key = :key, tenant_id = :tenant, run_id = :run, principal_id = :principal ${add}`,
          ExpressionAttributeNames: { '#key': 'key', '#calls': 'calls' },
          ExpressionAttributeValues: {
            ...counters,
            ':key': storageKeys.usageByRunPrincipal(
              tenantId,
              runKey(targets.runId),
              principalKey(targets.principalId),
            ),
            ':run': targets.runId,
            ':principal': targets.principalId,
          },
        },
      });
    }
    return items;
  }

  #recordItem(tenantId: string, record: UsageRecord, attemptMs = Date.parse(record.created_at)) {
    const pk = storageKeys.usageRecords(tenantId, requestKey(record.principal_id, record.request_id));
    return { ...record, pk, sk: attemptMs, kind: 'usage-record', key: `${pk}/${attemptMs}` };
  }

  async #get<T>(pk: string): Promise<T | undefined> {
    try {
      const result = await this.#db.send(
        new GetCommand({ TableName: this.#tableName, Key: { pk, sk: recordSortKey }, ConsistentRead: true }),
      );
      return result.Item as T | undefined;
    } catch (error) {
      throw storageUnavailable(error);
    }
  }
}
