import { randomUUID } from 'node:crypto';
import type { BudgetLine, RequestClaim } from '../../functions/model-policy/ports/ledger-port.ts';

/**
 * A fresh claim of `requestKey` by `alice`, leased for a minute, with a token never used before;
 * `changes` overrides any field.
 */
export function claimOf(requestKey: string, changes: Partial<RequestClaim> = {}): RequestClaim {
  const now = Date.now();
  return {
    requestKey,
    requestId: requestKey,
    principalId: 'alice',
    fingerprint: 'fingerprint-1',
    token: `token-${requestKey}-${randomUUID()}`,
    leaseUntil: now + 60_000,
    expiresAt: Math.floor(now / 1000) + 86_400,
    now,
    ...changes,
  };
}

/** The tenant's lifetime budget of 1,000 tokens. */
export const tenantTotalLine: BudgetLine = {
  scope: 'tenant',
  period: 'total',
  scopeKey: 'tenant',
  periodKey: 'total',
  limitTokens: 1000,
};
