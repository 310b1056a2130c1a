import { gunzipSync, gzipSync } from 'node:zlib';
import type { StoredCall } from '../../schemas/stored-call.ts';

/**
 * Item shapes of the metering ledger in the node's table (pk string, sk number):
 *
 * - request   `tenant/{t}/model-requests/{hash}`, 0: the request-id claim, the reservation made under
 *             it while the call runs and, once completed, the stored response (gzip JSON) for
 *             replays; `abort_requested` once the call was asked to stop; TTL `expires_at`.
 * - budget    `tenant/{t}/budgets/{scope}/{period}`, 0: spent / reserved / committed counters.
 * - record    `tenant/{t}/usage/records/{hash}`, attempt epoch ms: one usage record per attempt; a
 *             settled attempt's record holds its claim's `settlement_token`, which refuses that
 *             settlement a second write (HLD §5.3).
 * - usage     `tenant/{t}/usage/{window}/{date}`, 0: the window's totals; sk = principal sort key:
 *             that principal's totals (canonical key `.../principals/{hash}` in `key`).
 * - run usage `tenant/{t}/usage/runs/{run}`, 0: a run's totals; sk = principal sort key: that
 *             principal's share of them (canonical key `.../principals/{hash}` in `key`).
 */

/** A reservation as its request item records it, so whoever takes a lapsed claim over can release it. */
export type HeldReservation = {
  budget_keys: string[];
  tokens: number;
  nano: number;
  /** The reservation attempt that wrote it, so a retry of that write can tell it applied. */
  attempt: number;
};

/** The request-id claim of a model call. */
export type RequestItem = {
  pk: string;
  sk: number;
  kind: 'model-request';
  request_id: string;
  principal_id: string;
  fingerprint: string;
  status: 'in_flight' | 'completed';
  claim_token: string;
  lease_until: number;
  expires_at: number;
  reservation?: HeldReservation;
  response?: Uint8Array;
  /** Set while in flight when the call was asked to stop (HLD §5.3); its holder aborts and settles it. */
  abort_requested?: boolean;
};

/** A budget counter (committed = spent + reserved is kept alongside, for the reservation condition). */
export type BudgetItem = {
  spent_tokens?: number;
  spent_nano?: number;
  reserved_tokens?: number;
  reserved_nano?: number;
};

/** A usage aggregate: a window's or a run's totals, or one principal's within a window. */
export type TotalsItem = {
  sk: number;
  calls?: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  cost_nano?: number;
  principal_id?: string;
};

/** A stored call as the compact binary the request item keeps. */
export function encodeStoredCall(call: StoredCall): Uint8Array {
  return gzipSync(Buffer.from(JSON.stringify(call), 'utf8'));
}

/** The stored call a request item keeps, from its compact binary. */
export function decodeStoredCall(bytes: Uint8Array): StoredCall {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as StoredCall;
}
