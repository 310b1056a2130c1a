import { describe, expect, it } from 'vitest';
import { InMemoryRunDriver } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import type { RunTaskMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import { runDriverPortConformance } from '../conformance/run-driver-port.case.ts';
import { ManualClock } from '../support/manual-clock.ts';

runDriverPortConformance('in memory', async () => {
  const clock = new ManualClock();
  const driver = new InMemoryRunDriver({ now: () => clock.date() });
  const taken: RunTaskMessage[] = [];
  return {
    driver,
    async nextTask(runId) {
      // A pause is over once the clock passes it: move the clock until the run's next task is due.
      for (let waited = 0; waited <= 86_400; waited += 1) {
        taken.push(...driver.take());
        const index = taken.findIndex((task) => task.run_id === runId);
        if (index >= 0) return taken.splice(index, 1)[0]!;
        clock.advance(1000);
      }
      throw new Error(`no task for ${runId}`);
    },
    status: async (executionArn) => {
      const execution = driver.execution(executionArn);
      if (execution === undefined) throw new Error(`no execution ${executionArn}`);
      return execution.status;
    },
  };
});

describe('InMemoryRunDriver timeouts', () => {
  const auth = {
    tenant_id: 'acme',
    principal: { id: 'u', type: 'user' as const },
    scopes: [],
    policy_context: {},
  };

  it('hands a step whose task timed out again, then fails the run with States.Timeout', async () => {
    const driver = new InMemoryRunDriver();
    const arn = await driver.start(auth, { runId: 'run_1', stepTimeoutSeconds: 30 });
    const attempts: (number | undefined)[] = [];
    for (let i = 0; i < 3; i += 1) {
      const [task] = driver.take();
      if (task?.kind !== 'run.step' || task.task_token === undefined) throw new Error('no step task');
      attempts.push(task.attempt);
      driver.expire(task.task_token);
      expect(await driver.heartbeat(task.task_token)).toBe('task_over');
    }
    expect(attempts).toEqual([0, 1, 2]);
    expect(driver.take()).toMatchObject([
      { kind: 'run.fail', run_id: 'run_1', step: 1, error: 'States.Timeout' },
    ]);
    expect(driver.execution(arn)?.status).toBe('FAILED');
  });
});
