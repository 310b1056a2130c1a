/**
 * Event ids are derived from what the event records (run, step, kind, tool call), never random, so a
 * redelivered step regenerates the same ids and the store drops the duplicates.
 */
export const eventIds = {
  runQueued: (runId: string) => `${runId}:run.queued`,
  runStarted: (runId: string) => `${runId}:run.started`,
  runTerminal: (runId: string) => `${runId}:run.terminal`,
  step: (runId: string, step: number, kind: string) => `${runId}:s${step}:${kind}`,
  tool: (runId: string, step: number, kind: string, toolCallId: string) =>
    `${runId}:s${step}:${kind}:${toolCallId}`,
} as const;
