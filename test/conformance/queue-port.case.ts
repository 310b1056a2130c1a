import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { QueuePort } from '../../functions/orchestrator/ports/queue-port.ts';
import type { StepMessage } from '../../functions/orchestrator/runtime/step-message.ts';

const authFor = (tenant: string): AuthContext => ({
  tenant_id: tenant,
  principal: { id: `user-${tenant}`, type: 'user' },
  scopes: ['runs:write'],
  policy_context: { plan: 'gold' },
});

/**
 * A QueuePort under test: `received` returns the step tasks a worker gets (waiting a while for them
 * when delivery is asynchronous), `deadlines` the deadline tasks scheduled so far.
 */
export type QueuePortHarness = {
  port: QueuePort;
  received(expected: number): Promise<StepMessage[]>;
  deadlines(): Promise<StepMessage[]>;
};

/** The behaviour every QueuePort adapter must have. */
export function queuePortConformance(name: string, factory: () => Promise<QueuePortHarness>): void {
  describe(`QueuePort conformance: ${name}`, () => {
    const runId = () => `run_${crypto.randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase()}`;

    it('returns the step with its run id, step number and Auth Context to a worker', async () => {
      const { port, received } = await factory();
      const auth = authFor('acme');
      const id = runId();
      await port.enqueueStep(auth, { runId: id, step: 3 });
      expect(await received(1)).toEqual([{ kind: 'run.step', run_id: id, step: 3, auth }]);
    });

    it("keeps each tenant's Auth Context on its own tasks", async () => {
      const { port, received } = await factory();
      const [a, b] = [runId(), runId()];
      await port.enqueueStep(authFor('tenant-a'), { runId: a, step: 1 });
      await port.enqueueStep(authFor('tenant-b'), { runId: b, step: 1 });
      const byRun = new Map((await received(2)).map((message) => [message.run_id, message.auth.tenant_id]));
      expect(byRun).toEqual(
        new Map([
          [a, 'tenant-a'],
          [b, 'tenant-b'],
        ]),
      );
    });

    it('schedules a deadline once per run even when asked twice', async () => {
      const { port, deadlines } = await factory();
      const id = runId();
      await port.scheduleDeadline(authFor('acme'), { runId: id, afterSeconds: 600 });
      await port.scheduleDeadline(authFor('acme'), { runId: id, afterSeconds: 600 });
      const forRun = (await deadlines()).filter((message) => message.run_id === id);
      expect(forRun).toEqual([{ kind: 'run.deadline', run_id: id, auth: authFor('acme') }]);
    });
  });
}
