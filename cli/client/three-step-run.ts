import type { AgentOsClient } from './agentos-client.ts';

/** The input of a three-step run on the local scripted model: two echo tool rounds, then an answer. */
export function threeStepRunInput(agentId: string, label: string) {
  const script = [
    { tool_calls: [{ name: 'echo', arguments: { text: `${label} one` } }] },
    { tool_calls: [{ name: 'echo', arguments: { text: `${label} two` } }] },
    { reply: `${label} done` },
  ];
  return {
    agent_id: agentId,
    input: {
      messages: [
        {
          role: 'user' as const,
          content: `Run the ${label} check.\nagentos-script: ${JSON.stringify(script)}`,
        },
      ],
    },
  };
}

/** What one timed run observed. */
export type TimedRun = {
  runId: string;
  status: string;
  /** POST sent → first SSE event received. */
  firstEventMs: number;
  /** POST sent → `run.completed` (or another terminal event) received. */
  terminalMs: number;
  eventTypes: string[];
  sequences: number[];
};

/**
 * Creates a three-step run and follows its SSE stream to the terminal event, timing both edges.
 * Used by `agentos up`'s smoke test and by the benchmark.
 */
export async function timeThreeStepRun(
  client: AgentOsClient,
  agentId: string,
  label: string,
): Promise<TimedRun> {
  const started = performance.now();
  const created = await client.createRun(
    threeStepRunInput(agentId, label),
    `${label}-${crypto.randomUUID()}`,
  );
  if (created.status !== 201)
    throw new Error(`POST /v1/runs answered ${created.status}: ${JSON.stringify(created.body)}`);
  const runId = created.body.run_id;
  let firstEventMs = -1;
  let terminalMs = -1;
  const eventTypes: string[] = [];
  const sequences: number[] = [];
  const signal = AbortSignal.timeout(180_000);
  for await (const frame of client.streamEvents(runId, { signal })) {
    if (frame.kind !== 'event') continue;
    if (firstEventMs < 0) firstEventMs = performance.now() - started;
    eventTypes.push(frame.event);
    sequences.push(Number(frame.id));
    if (['run.completed', 'run.failed', 'run.canceled'].includes(frame.event)) {
      terminalMs = performance.now() - started;
      break;
    }
  }
  const final = await client.getRun(runId);
  return { runId, status: final.body.status, firstEventMs, terminalMs, eventTypes, sequences };
}
