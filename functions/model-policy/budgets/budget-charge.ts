import type { Amount } from '../ports/ledger-port.ts';

/** What a call's usage does to its budgets. */
export type BudgetCharge = {
  /** Counted against the budgets: the actual amount, but never more than was reserved. */
  charged: Amount;
  /** Used beyond the reservation: metered and billed in the usage record, not in the budgets. */
  beyond: Amount;
};

/**
 * Splits a call's actual usage into what its budgets are charged and what lies beyond its
 * reservation. A reservation is sized to the room a budget has left, so charging more than it would
 * push recorded spend past the limit whenever a backend reports more than the estimate (a prompt
 * template the estimate cannot see, a backend ignoring `max_tokens`); each dimension is capped on its own.
 */
export function budgetCharge(reserved: Amount, actual: Amount): BudgetCharge {
  const charged = {
    tokens: Math.min(actual.tokens, reserved.tokens),
    nano: Math.min(actual.nano, reserved.nano),
  };
  return { charged, beyond: { tokens: actual.tokens - charged.tokens, nano: actual.nano - charged.nano } };
}
