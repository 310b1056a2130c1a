/**
 * The age of the oldest step message as the step workers observe it (HLD §10.2 backpressure). SQS
 * does not tell a reader how old its oldest message is without receiving it, so the workers, which
 * receive every step, note the ages they see and the capacity report reads the largest recent one.
 */
export interface StepAgePort {
  /** Notes that a worker received a step message `ageMs` after it was first sent. */
  record(ageMs: number): Promise<void>;
  /**
   * The largest age noted within the last {@link StepAgeReading.windowSeconds} (at least; at most
   * twice as long), or `null` when no step message was received in that time.
   */
  oldest(): Promise<StepAgeReading>;
}

/** What {@link StepAgePort.oldest} reads. */
export type StepAgeReading = { maxAgeMs: number | null; windowSeconds: number };
