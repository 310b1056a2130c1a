import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { budgetPeriods, budgetScopes } from '../../schemas/tenant-policy.ts';
import { usageWindows } from '../../schemas/usage.ts';
import type { CallSettlement } from '../../ports/ledger-port.ts';

/** The version of the settlement message this code writes and reads. */
const messageVersion = 1;

const whole = z.number().int().safe();
const AmountSchema = z.strictObject({ tokens: whole, nano: whole });

const ClaimSchema = z.strictObject({
  requestKey: z.string().min(1),
  requestId: z.string().min(1),
  principalId: z.string().min(1),
  fingerprint: z.string(),
  token: z.string().min(1),
  leaseUntil: whole,
  expiresAt: whole,
  now: whole,
});

const BudgetLineSchema = z.strictObject({
  scope: z.enum(budgetScopes),
  period: z.enum(budgetPeriods),
  scopeKey: z.string().min(1),
  periodKey: z.string().min(1),
  limitTokens: whole.optional(),
  limitNano: whole.optional(),
  expiresAt: whole.optional(),
});

/**
 * The stored call and the usage record travel as the gateway built them: the ledger stores them as
 * they are. The fields the ledger's keys and counters are made of are checked; the rest (route,
 * policy, the answer) is kept as it came, as the ledger would keep it.
 */
const StoredCallSchema = z.looseObject({
  request_id: z.string(),
  completion_id: z.string(),
  created: z.number(),
  usage: z.looseObject({ prompt_tokens: whole, completion_tokens: whole, cost_nano: whole }),
});

const UsageRecordSchema = z.looseObject({
  request_id: z.string().min(1),
  tenant_id: z.string().min(1),
  principal_id: z.string().min(1),
  prompt_tokens: whole,
  completion_tokens: whole,
  cost_nano: whole,
  created_at: z.iso.datetime({ offset: true }),
  run_id: z.string().optional(),
});

const AggregateSchema = z.strictObject({
  windows: z.array(z.strictObject({ window: z.enum(usageWindows), date: z.string().min(1) })).max(8),
  principalId: z.string().min(1),
  runId: z.string().optional(),
});

const SettlementSchema = z.strictObject({
  claim: ClaimSchema,
  request: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('complete'), call: StoredCallSchema }),
    z.strictObject({ kind: z.literal('release') }),
  ]),
  budgets: z
    .strictObject({ lines: z.array(BudgetLineSchema).max(16), reserved: AmountSchema, charged: AmountSchema })
    .optional(),
  record: UsageRecordSchema.optional(),
  aggregate: AggregateSchema.optional(),
});

const SettlementMessageSchema = z.strictObject({
  v: z.literal(messageVersion),
  tenant_id: z.string().min(1),
  settlement: SettlementSchema,
});

/** A settlement read back from the queue, with the tenant it is written for. */
export type SettlementMessage = { tenantId: string; settlement: CallSettlement };

/** Thrown when a message body is not a settlement this code can write. */
export class UnreadableSettlementError extends Error {
  override readonly name = 'UnreadableSettlementError';
}

/**
 * A settlement as a message body: its JSON, gzipped and base64-encoded, so a settlement whose stored
 * answer fits a table item (400 KB, kept gzipped there too) fits a message (1 MiB).
 */
export function encodeSettlementMessage(tenantId: string, settlement: CallSettlement): string {
  const message = { v: messageVersion, tenant_id: tenantId, settlement };
  return gzipSync(Buffer.from(JSON.stringify(message), 'utf8')).toString('base64');
}

/** Reads a message body back; throws {@link UnreadableSettlementError} for anything else. */
export function decodeSettlementMessage(body: string): SettlementMessage {
  let value: unknown;
  try {
    value = JSON.parse(gunzipSync(Buffer.from(body, 'base64')).toString('utf8'));
  } catch (cause) {
    throw new UnreadableSettlementError('The message is not a gzipped JSON settlement', { cause });
  }
  const parsed = SettlementMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : ` at ${issue.path.join('.') || 'its root'}`;
    throw new UnreadableSettlementError(`The message is not a settlement${where}`);
  }
  // The value as it was written, not zod's copy: zod rebuilds objects with its own keys first, and a
  // settlement written again must be byte for byte the first write (its client request token).
  const message = value as { tenant_id: string; settlement: CallSettlement };
  return { tenantId: message.tenant_id, settlement: message.settlement };
}
