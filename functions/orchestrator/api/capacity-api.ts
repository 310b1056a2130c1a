import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';

/**
 * The node's capacity as an operator sees it (HLD §10.2 backpressure): the node's run slots in use
 * against its capacity and capacity mode, the step queue's depth, and the age of the oldest step
 * message the workers received lately. SQS does not give that age to a reader without receiving
 * messages, so the workers note the ages they see (step-age-port.ts); on AWS CloudWatch's
 * `ApproximateAgeOfOldestMessage` of the step queue also has it, and the step worker logs each
 * task's `message_age_ms` and counts it as the `StepMessageAgeMs` metric. Declared once; the handler
 * is in capacity-handlers.ts.
 */

const count = z.number().int().min(0);

export const NodeCapacitySchema = z
  .strictObject({
    object: z.literal('node_capacity'),
    run_slots: z
      .strictObject({
        in_use: count.describe('Runs holding one of the node’s run slots now (running runs).'),
        capacity: count.describe('The node’s capacity of running runs (`capacity.max_concurrent_runs`).'),
        mode: z
          .enum(['queue', 'reject'])
          .describe(
            'What a new run meets while the node is full (`capacity.mode`): `queue`, it waits with ' +
              '`status_reason: waiting_for_node_capacity`; `reject`, run creation answers 429.',
          ),
      })
      .describe('The node’s run slots, shared by every tenant.'),
    step_queue: z
      .strictObject({
        visible: count.describe('Step messages waiting to be received (`ApproximateNumberOfMessages`).'),
        in_flight: count.describe(
          'Step messages received and not yet deleted: steps being run (`ApproximateNumberOfMessagesNotVisible`).',
        ),
        delayed: count.describe(
          'Step messages not yet visible: steps waiting out a backoff or a slot wait ' +
            '(`ApproximateNumberOfMessagesDelayed`).',
        ),
        oldest_message_age_ms: count
          .nullable()
          .describe(
            'The largest age (now − first sent) of the step messages the workers received in the last ' +
              '`age_window_seconds` to twice that; `null` when they received none. A growing age means ' +
              'steps wait longer than the workers take them.',
          ),
        age_window_seconds: z
          .number()
          .int()
          .min(1)
          .describe('The window `oldest_message_age_ms` covers, at least (it may cover up to twice this).'),
      })
      .describe('The step queue’s depth, as SQS approximates it, and the oldest step age the workers saw.'),
    measured_at: z.iso.datetime().describe('When the figures were read.'),
  })
  .meta({ id: 'NodeCapacity' });

export type NodeCapacity = z.infer<typeof NodeCapacitySchema>;

export const getNodeCapacity = defineRoute({
  operationId: 'getNodeCapacity',
  method: 'GET',
  path: '/v1/admin/capacity',
  scope: scopes.operator,
  tags: ['Tenants'],
  summary: 'Read the node’s capacity, step queue depth and oldest step age',
  description:
    'The node’s run slots in use, its capacity and capacity mode, the step queue’s depth, and the age of the ' +
    'oldest step message the workers received lately. On AWS CloudWatch’s `ApproximateAgeOfOldestMessage` of ' +
    'the step queue also has it; the step worker logs each task’s `message_age_ms` and counts it as ' +
    '`StepMessageAgeMs`.',
  responses: {
    200: {
      description: 'The node’s capacity now.',
      content: { 'application/json': { schema: NodeCapacitySchema } },
    },
    403: {
      description:
        'forbidden: the token lacks the `operator` scope or is not a token of the operator tenant (the scope alone is not enough).',
    },
    503: {
      description:
        'dependency_unavailable: the slot pool, the step queue or the noted step ages could not be read; retry.',
    },
  },
});

/** The capacity routes, in document order. */
export const capacityRoutes = [getNodeCapacity] as const;
