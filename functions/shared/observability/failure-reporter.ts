/**
 * Reports a failure the caller deliberately does not propagate (a cleanup that failed after the
 * real error, a best-effort publish): it is logged and counted, never silently dropped. Only the
 * error's name, code and message are logged, never request bodies.
 */
export type FailureReporter = (what: string, error: unknown, context?: Record<string, unknown>) => void;

/** The metric every reported failure increments (global, no tenant dimension, HLD §9.2). */
export const handledFailuresMetric = 'HandledFailures';

/** The loggable shape of an error: its name, code and message. */
export function describeError(error: unknown): { name: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { name: typeof error, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/** A {@link FailureReporter} that logs a warning and counts {@link handledFailuresMetric}. */
export function createFailureReporter(
  log: { warn(message: string, attributes: Record<string, unknown>): void },
  count: (metric: typeof handledFailuresMetric, value: number) => void,
): FailureReporter {
  return (what, error, context = {}) => {
    log.warn(what, { ...context, error: describeError(error) });
    count(handledFailuresMetric, 1);
  };
}
