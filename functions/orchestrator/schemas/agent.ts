import { z } from 'zod';
import { AgentIdSchema } from './run.ts';

/** What an agent is: its model, its instructions, its tools and its limits. */
export const AgentDefinitionSchema = z
  .object({
    agent_id: AgentIdSchema,
    name: z.string().min(1).max(200),
    model_ref: z.string().min(1).max(200),
    system_prompt: z.string().max(32_768),
    tool_ids: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)).max(64),
    max_steps: z.number().int().min(1).max(100),
    max_tokens_per_step: z.number().int().min(1).max(100_000),
    /** A run still going this long after it started fails with `run_timeout`. */
    timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(900),
  })
  .meta({ id: 'AgentDefinition' });

export type AgentDefinition = z.output<typeof AgentDefinitionSchema>;
