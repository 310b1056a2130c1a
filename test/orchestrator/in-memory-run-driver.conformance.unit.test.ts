import { InMemoryRunDriver } from '../../functions/orchestrator/adapters/in-memory/in-memory-run-driver.ts';
import type { StepMessage } from '../../functions/orchestrator/runtime/step-message.ts';
import { runDriverPortConformance } from '../conformance/run-driver-port.case.ts';
import { ManualClock } from '../support/manual-clock.ts';

runDriverPortConformance('in memory', async () => {
  const clock = new ManualClock();
  const driver = new InMemoryRunDriver({ now: () => clock.date() });
  const taken: StepMessage[] = [];
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
