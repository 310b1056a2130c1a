import type { AgentOsClient } from '../../client/agentos-client.ts';
import { details, emit, expectStatus } from './resource-output.ts';
import type { CommandOutput } from './resource-output.ts';

/** What `GET /v1/admin/capacity` answers (schemas/orchestrator.openapi.json, `NodeCapacity`). */
type NodeCapacity = {
  object: 'node_capacity';
  run_slots: { in_use: number; capacity: number; mode: 'queue' | 'reject' };
  step_queue: {
    visible: number;
    in_flight: number;
    delayed: number;
    oldest_message_age_ms: number | null;
    age_window_seconds: number;
  };
  measured_at: string;
};

/**
 * `agentos capacity` (operator): the node's run slots, step queue depth and oldest step age (HLD §10.2
 * backpressure), from the Orchestrator's capacity route. Reads only; writes no report.
 */
export const capacityCommand = {
  async show(client: AgentOsClient, output: CommandOutput): Promise<number> {
    const body = expectStatus<NodeCapacity>(await client.request('GET', '/v1/admin/capacity'), 200);
    const { run_slots: slots, step_queue: queue } = body;
    emit(output, body, () =>
      details({
        run_slots: `${slots.in_use} of ${slots.capacity} in use (mode: ${slots.mode})`,
        step_queue: `${queue.visible} waiting, ${queue.in_flight} in flight, ${queue.delayed} delayed`,
        measured_at: body.measured_at,
        oldest_step:
          queue.oldest_message_age_ms === null
            ? `no step received in the last ${queue.age_window_seconds} s`
            : `${queue.oldest_message_age_ms} ms old when received (last ${queue.age_window_seconds} s)`,
      }),
    );
    return 0;
  },
};
