import { z } from 'zod';
import { AuthContextSchema } from '../../shared/auth/auth-context.ts';

/** The body of a step task on the queue. */
export const StepMessageSchema = z.strictObject({
  kind: z.literal('run.step'),
  run_id: z.string().min(1),
  step: z.number().int().positive(),
  auth: AuthContextSchema,
});

export type StepMessage = z.infer<typeof StepMessageSchema>;
