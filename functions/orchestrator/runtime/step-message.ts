import { z } from 'zod';
import { AuthContextSchema, TenantIdSchema } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { maxStepDelaySeconds } from '../ports/queue-port.ts';
import type { StepTask } from '../ports/queue-port.ts';

/**
 * The body of a task on the step queue: run a step, enforce a run's deadline, fail a long run
 * whose step failed on every attempt, or go on stopping a tenant's runs. A step of a `long` run carries its Step Functions task token,
 * the attempt (0 for the first) and the heartbeat interval the state machine expects (HLD §4.3).
 * A `standard` step handed on by a chain carries in `attempt` the tries it had there, which its
 * deliveries add to.
 */
export const StepMessageSchema = z.discriminatedUnion('kind', [
  // An operator's stop of every run of a tenant, continued page by page in the background (HLD
  // §10.2): `auth` is the operator's, `status` and `cursor` where the next page of the tenant's
  // unfinished runs starts, `created_before` when the stop was asked (runs created later are left
  // alone; absent on tasks queued before it was carried).
  z.strictObject({
    kind: z.literal('runs.stop'),
    auth: AuthContextSchema,
    tenant_id: TenantIdSchema,
    reason: z.string().min(1),
    status: z.enum(['queued', 'running']),
    cursor: z.string().min(1).nullable(),
    created_before: z.iso.datetime().optional(),
  }),
  z.strictObject({
    kind: z.literal('run.step'),
    run_id: z.string().min(1),
    step: z.number().int().positive(),
    auth: AuthContextSchema,
    task_token: z.string().min(1).optional(),
    attempt: z.number().int().nonnegative().optional(),
    max_attempts: z.number().int().positive().optional(),
    heartbeat_seconds: z.number().int().positive().optional(),
  }),
  z.strictObject({
    kind: z.literal('run.deadline'),
    run_id: z.string().min(1),
    auth: AuthContextSchema,
  }),
  z.strictObject({
    kind: z.literal('run.fail'),
    run_id: z.string().min(1),
    step: z.number().int().positive(),
    auth: AuthContextSchema,
    error: z.string(),
    cause: z.string().nullable().optional(),
  }),
]);

export type StepMessage = z.infer<typeof StepMessageSchema>;

/**
 * The error names a long run's step task fails with (`SendTaskFailure`); the long-run state machine
 * retries both, with backoff (HLD §4.3).
 */
export const stepTaskErrors = {
  /** A retryable failure (a dependency down, rate limited): try the step again after a backoff. */
  retry: 'StepRetry',
  /** The step failed unexpectedly in the worker. */
  failed: 'StepFailed',
} as const;

/**
 * What identifies the run of a message that is not a valid step message, when it still names one:
 * that run can then be failed with the reason instead of waiting for a step that never comes.
 */
export const IdentifiableRunSchema = z.object({ run_id: z.string().min(1), auth: AuthContextSchema });

/** Where an operator's stop of every run of a tenant goes on: the status listed and its cursor. */
export type RunStopPosition = { status: 'queued' | 'running'; cursor: string | null };

/** An operator's stop of every run of a tenant, handed to the step queue to go on in the background. */
export type RunStopTask = {
  tenantId: string;
  reason: string;
  from: RunStopPosition;
  /** When the stop was asked (ISO 8601): runs created after it are not stopped. */
  createdBefore?: string;
};

/** The step-queue message that carries an operator's stop of every run of a tenant onwards. */
export function runStopMessage(operator: AuthContext, task: RunStopTask): StepMessage {
  return {
    kind: 'runs.stop',
    auth: operator,
    tenant_id: task.tenantId,
    reason: task.reason,
    status: task.from.status,
    cursor: task.from.cursor,
    ...(task.createdBefore === undefined ? {} : { created_before: task.createdBefore }),
  };
}

/** A task about one run: a step, a deadline, a long run's failure. */
export type RunTaskMessage = Exclude<StepMessage, { kind: 'runs.stop' }>;

/** The step-queue message of a run's step; a step handed on carries the tries it had (`attempt`). */
export function runStepMessage(
  auth: AuthContext,
  task: StepTask,
): Extract<StepMessage, { kind: 'run.step' }> {
  return {
    kind: 'run.step',
    run_id: task.runId,
    step: task.step,
    auth,
    ...(task.triedBefore === undefined ? {} : { attempt: task.triedBefore }),
  };
}

/** Whole seconds a step waits on the queue before delivery, within what the queue allows. */
export function stepDelaySeconds(task: StepTask): number {
  return Math.min(maxStepDelaySeconds, Math.max(0, Math.ceil(task.delaySeconds ?? 0)));
}
