import { z } from 'zod';
import { AuthContextSchema } from '../../shared/auth/auth-context.ts';

/** The body of a task on the step queue: run a step, or enforce a run's deadline. */
export const StepMessageSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('run.step'),
    run_id: z.string().min(1),
    step: z.number().int().positive(),
    auth: AuthContextSchema,
  }),
  z.strictObject({
    kind: z.literal('run.deadline'),
    run_id: z.string().min(1),
    auth: AuthContextSchema,
  }),
]);

export type StepMessage = z.infer<typeof StepMessageSchema>;
