import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentOsClient } from '../../cli/client/agentos-client.ts';
import { capacityCommand } from '../../cli/commands/api/capacity-command.ts';
import type { CommandOutput } from '../../cli/commands/api/resource-output.ts';

const capacity = {
  object: 'node_capacity',
  run_slots: { in_use: 37, capacity: 50, mode: 'queue' },
  step_queue: {
    visible: 12,
    in_flight: 37,
    delayed: 4,
    oldest_message_age_ms: 8_250,
    age_window_seconds: 60,
  },
  measured_at: '2026-03-02T09:15:00.000Z',
};

function client(status: number, body: unknown): AgentOsClient {
  return {
    request: async (method: string, path: string) => {
      if (`${method} ${path}` !== 'GET /v1/admin/capacity') throw new Error(`unexpected ${method} ${path}`);
      return { status, headers: new Headers(), body };
    },
  } as unknown as AgentOsClient;
}

function output(json = false): CommandOutput & { text: () => string } {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { out, err: new PassThrough(), json, text: () => chunks.join('') };
}

describe('agentos capacity', () => {
  it('prints the node’s run slots in use, the step queue’s depth and its oldest step age', async () => {
    const out = output();
    expect(await capacityCommand.show(client(200, capacity), out)).toBe(0);
    expect(out.text()).toContain('37 of 50 in use (mode: queue)');
    expect(out.text()).toContain('12 waiting, 37 in flight, 4 delayed');
    expect(out.text()).toContain('8250 ms old when received (last 60 s)');
  });

  it('says so when no step was received lately', async () => {
    const out = output();
    const idle = { ...capacity, step_queue: { ...capacity.step_queue, oldest_message_age_ms: null } };
    await capacityCommand.show(client(200, idle), out);
    expect(out.text()).toContain('no step received in the last 60 s');
  });

  it('prints the answer as it is with --json', async () => {
    const out = output(true);
    await capacityCommand.show(client(200, capacity), out);
    expect(JSON.parse(out.text())).toEqual(capacity);
  });

  it('fails with the node’s reason when the token is not an operator’s', async () => {
    const refusal = { error: { code: 'forbidden', message: 'Only operators of the platform tenant' } };
    await expect(capacityCommand.show(client(403, refusal), output())).rejects.toThrow(/operators/);
  });
});
