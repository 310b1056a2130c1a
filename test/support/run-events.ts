import type { AgentOsClient } from '../../cli/client/agentos-client.ts';

/** An event as the JSON page returns it. */
export type PagedEvent = { event_id: string; sequence: number; type: string; data: Record<string, unknown> };

/** All stored events of a run, through the JSON page of the events endpoint. */
export async function allEvents(client: AgentOsClient, runId: string): Promise<PagedEvent[]> {
  const events: PagedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await client.request<{ data: PagedEvent[]; has_more: boolean; next_after: number }>(
      'GET',
      `/v1/runs/${runId}/events?after=${after}&limit=1000`,
    );
    events.push(...page.body.data);
    if (!page.body.has_more) return events;
    after = page.body.next_after;
  }
}

/** Polls the run until `done` holds or `timeoutMs` passes; returns the last state seen. */
export async function waitForRun<T extends { status: string }>(
  client: AgentOsClient,
  runId: string,
  done: (run: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let run = (await client.getRun(runId)).body as unknown as T;
  while (!done(run) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    run = (await client.getRun(runId)).body as unknown as T;
  }
  return run;
}

/** A user message that drives the local `scripted` model through the given turns. */
export function scriptedInput(agentId: string, turns: unknown[], text = 'go') {
  return {
    agent_id: agentId,
    input: { messages: [{ role: 'user', content: `${text}\nagentos-script: ${JSON.stringify(turns)}` }] },
  };
}
