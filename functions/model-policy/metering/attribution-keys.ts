import { createHash } from 'node:crypto';

/**
 * Storage-safe stand-ins for attribution ids, which may hold characters no key segment allows.
 */

/** A principal id as a 32-hex-digit hash. */
export function principalKey(principalId: string): string {
  return createHash('sha256').update(principalId).digest('hex').slice(0, 32);
}

/** A run id itself when it is key-safe, a hash otherwise. */
export function runKey(runId: string): string {
  return /^[A-Za-z0-9._:@+=-]{1,120}$/.test(runId)
    ? runId
    : `h-${createHash('sha256').update(runId).digest('hex').slice(0, 40)}`;
}

/** A principal's sort key among a usage window's rows: a positive 48-bit number from its hash (0 is the window total). */
export function principalSortKey(principalId: string): number {
  return Number.parseInt(principalKey(principalId).slice(0, 12), 16) + 1;
}

/** The key of a request id, scoped to the principal that sent it. */
export function requestKey(principalId: string, requestId: string): string {
  return createHash('sha256').update(`${principalId}\n${requestId}`).digest('hex').slice(0, 40);
}
