import { gunzipSync, gzipSync } from 'node:zlib';
import type { StoredCall } from '../../invocation/stored-call.ts';

/**
 * Item shapes of the metering ledger in the node's table (pk string, sk number):
 *
 * - request   `tenant/{t}/model-requests/{hash}`, 0: the request-id claim and, once completed, the
 *             stored response (gzip JSON) for replays; TTL `expires_at`.
 * - budget    `tenant/{t}/budgets/{scope}/{period}`, 0: spent / reserved / committed counters.
 * - record    `tenant/{t}/usage/records/{hash}`, attempt epoch ms: one usage record per attempt.
 * - usage     `tenant/{t}/usage/{window}/{date}`, 0: the window's totals; sk = principal sort key:
 *             that principal's totals (canonical key `.../principals/{hash}` in `key`).
 * - run usage `tenant/{t}/usage/runs/{run}`, 0: a run's totals.
 */

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
  response?: Uint8Array;
};

export type BudgetItem = {
  spent_tokens?: number;
  spent_nano?: number;
  reserved_tokens?: number;
  reserved_nano?: number;
};

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

export function decodeStoredCall(bytes: Uint8Array): StoredCall {
  return JSON.parse(gunzipSync(bytes).toString('utf8')) as StoredCall;
}
