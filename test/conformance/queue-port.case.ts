import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { QueuePort } from '../../functions/orchestrator/ports/queue-port.ts';
import type { RunTaskMessage } from '../../functions/orchestrator/runtime/step-message.ts';

/**
 * How long `received` lets tasks arrive: a harness over a real queue keeps receiving for at least
 * this many seconds; one with an injected clock moves it on by this much before taking.
 */
export const deliveryWindowSeconds = 2;

/**
 * A deadline delay that passes within the delivery window, one that does not but is short enough to
 * be a delayed message on SQS (at most 900 s), and one beyond that (the state machine's, on SQS).
 */
const soon = 1;
const notYet = 120;
const later = 3600;

/**
 * A QueuePort under test. `received` returns what a worker gets from the queue over the next
 * {@link deliveryWindowSeconds} (steps, and deadlines whose delay passes meanwhile), in any order,
 * and removes it, so the next call sees only what came after. `deadlineOncePerRun` says whether the
 * adapter keeps a run's first deadline when asked again (the in-memory queue does; SQS sends a short
 * deadline each time it is asked, which is harmless: expiring a run that is over does nothing).
 *
 * The port promises delivery at least once. The adapters this suite runs against (in memory, and SQS
 * on the emulator, which does not duplicate messages) deliver each message once, so the cases count
 * exactly.
 */
export type QueuePortHarness = {
  port: QueuePort;
  received(): Promise<RunTaskMessage[]>;
  deadlineOncePerRun: boolean;
};

const authFor = (tenant: string, scopes: string[] = ['runs:write']): AuthContext => ({
  tenant_id: tenant,
  principal: { id: `user-${tenant}`, type: 'user' },
  scopes,
  policy_context: { plan: `plan-${tenant}` },
});

const step = (auth: AuthContext, runId: string, n: number): RunTaskMessage => ({
  kind: 'run.step',
  run_id: runId,
  step: n,
  auth,
});
const deadline = (auth: AuthContext, runId: string): RunTaskMessage => ({
  kind: 'run.deadline',
  run_id: runId,
  auth,
});

/** Messages in a stable order (by run, kind and step), since delivery order is not promised. */
function sorted(messages: RunTaskMessage[]): RunTaskMessage[] {
  const keyOf = (m: RunTaskMessage) => `${m.run_id}/${m.kind}/${m.kind === 'run.step' ? m.step : 0}`;
  return [...messages].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

/**
 * The behaviour every QueuePort adapter must have: tasks reach a worker with their run, step and
 * Auth Context; a deadline reaches it once per run, only after its delay.
 */
export function queuePortConformance(name: string, factory: () => Promise<QueuePortHarness>): void {
  describe(`QueuePort conformance: ${name}`, () => {
    const runId = () => `run_${crypto.randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase()}`;

    it('returns the step with its run id, step number and Auth Context to a worker', async () => {
      const { port, received } = await factory();
      const auth = authFor('acme');
      const id = runId();
      await port.enqueueStep(auth, { runId: id, step: 3 });
      expect(await received()).toEqual([step(auth, id, 3)]);
    });

    it("keeps each tenant's Auth Context on its own tasks", async () => {
      const { port, received } = await factory();
      const [a, b] = [authFor('tenant-a', ['runs:write']), authFor('tenant-b', ['runs:read', 'runs:write'])];
      const [runA, runB] = [runId(), runId()];
      await port.enqueueStep(a, { runId: runA, step: 1 });
      await port.enqueueStep(b, { runId: runB, step: 1 });
      expect(sorted(await received())).toEqual(sorted([step(a, runA, 1), step(b, runB, 1)]));
    });

    it('delivers every step enqueued, of every run', async () => {
      const { port, received } = await factory();
      const auth = authFor('acme');
      const [first, second] = [runId(), runId()];
      const tasks = [
        { runId: first, step: 1 },
        { runId: first, step: 2 },
        { runId: second, step: 1 },
        { runId: first, step: 3 },
      ];
      for (const task of tasks) await port.enqueueStep(auth, task);
      expect(sorted(await received())).toEqual(sorted(tasks.map((t) => step(auth, t.runId, t.step))));
    });

    it('returns a deadline asked for twice at least once, naming only its run', async () => {
      const { port, received, deadlineOncePerRun } = await factory();
      const auth = authFor('acme');
      const id = runId();
      await port.scheduleDeadline(auth, { runId: id, afterSeconds: soon });
      await port.scheduleDeadline(auth, { runId: id, afterSeconds: soon });
      const got = await received();
      expect(got).toEqual(
        deadlineOncePerRun ? [deadline(auth, id)] : [deadline(auth, id), deadline(auth, id)],
      );
    });

    it("gives each run its own deadline, under its tenant's Auth Context", async () => {
      const { port, received } = await factory();
      const [a, b] = [authFor('tenant-a'), authFor('tenant-b')];
      const [runA, runB] = [runId(), runId()];
      await port.scheduleDeadline(a, { runId: runA, afterSeconds: soon });
      await port.scheduleDeadline(b, { runId: runB, afterSeconds: soon });
      expect(sorted(await received())).toEqual(sorted([deadline(a, runA), deadline(b, runB)]));
    });

    it('holds a step handed on for later back until its delay has passed, and returns it with the tries it had', async () => {
      const { port, received } = await factory();
      const auth = authFor('acme');
      const [due, held] = [runId(), runId()];
      await port.enqueueStep(auth, { runId: due, step: 2, delaySeconds: soon, triedBefore: 1 });
      await port.enqueueStep(auth, { runId: held, step: 2, delaySeconds: notYet, triedBefore: 1 });
      expect(await received()).toEqual([{ ...step(auth, due, 2), attempt: 1 }]);
    });

    it('holds a deadline back until its delay has passed', async () => {
      const { port, received } = await factory();
      const auth = authFor('acme');
      const [near, far] = [runId(), runId()];
      await port.scheduleDeadline(auth, { runId: near, afterSeconds: notYet });
      await port.scheduleDeadline(auth, { runId: far, afterSeconds: later });
      await port.enqueueStep(auth, { runId: near, step: 1 });
      expect(await received()).toEqual([step(auth, near, 1)]);
    });

    it('keeps the first deadline of a run asked again with a shorter delay, when it keeps one per run', async () => {
      const { port, received, deadlineOncePerRun } = await factory();
      const auth = authFor('acme');
      const [held, other] = [runId(), runId()];
      await port.scheduleDeadline(auth, { runId: held, afterSeconds: later });
      await port.scheduleDeadline(auth, { runId: held, afterSeconds: soon });
      // Another run's deadline in the same window shows that deadlines do arrive meanwhile.
      await port.scheduleDeadline(auth, { runId: other, afterSeconds: soon });
      // An adapter that sends each short deadline also sends the second ask's (harmless, see above).
      const expected = deadlineOncePerRun
        ? [deadline(auth, other)]
        : [deadline(auth, held), deadline(auth, other)];
      expect(sorted(await received())).toEqual(sorted(expected));
    });

    it('delivers no second deadline for a run asked again after it fired, when it keeps one per run', async () => {
      const { port, received, deadlineOncePerRun } = await factory();
      const auth = authFor('acme');
      const id = runId();
      await port.scheduleDeadline(auth, { runId: id, afterSeconds: soon });
      expect(await received()).toEqual([deadline(auth, id)]);
      await port.scheduleDeadline(auth, { runId: id, afterSeconds: soon });
      await port.enqueueStep(auth, { runId: id, step: 2 });
      const expected = deadlineOncePerRun ? [step(auth, id, 2)] : [deadline(auth, id), step(auth, id, 2)];
      expect(sorted(await received())).toEqual(sorted(expected));
    });
  });
}
