/**
 * Waits before retrying a write that lost a race with concurrent calls: exponential in the attempt,
 * capped, and jittered (±50 %) so the writers that collided do not collide again in step.
 */
export function pauseAfterContention(
  attempt: number,
  timing: { baseMs: number; maxMs: number },
): Promise<void> {
  const ms = Math.min(timing.maxMs, timing.baseMs * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
