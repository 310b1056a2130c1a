import type { AuthContext } from '../../shared/auth/auth-context.ts';
import { DependencyUnavailableError, ForbiddenError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandlers } from '../../shared/http/bound-route.ts';
import type { SlotPoolPort } from '../../shared/limits/limiter-port.ts';
import type { StepAgePort } from '../ports/step-age-port.ts';
import { runSlotPools } from '../runtime/run-slots.ts';
import type { capacityRoutes, NodeCapacity } from './capacity-api.ts';

/** The step queue's depth, as SQS approximates it (HLD §10.2 backpressure). */
export type StepQueueDepth = Pick<NodeCapacity['step_queue'], 'visible' | 'in_flight' | 'delayed'>;

/** What the capacity report is built on. */
export type CapacityHandlerDeps = {
  pool: Pick<SlotPoolPort, 'holders'>;
  nodeMaxConcurrentRuns: number;
  nodeCapacityMode: 'queue' | 'reject';
  /** Reads the step queue's depth (SQS GetQueueAttributes). */
  queueDepth: () => Promise<StepQueueDepth>;
  /** The oldest step message age the workers noted recently. */
  stepAge: Pick<StepAgePort, 'oldest'>;
  now: () => Date;
  /** The platform tenant whose operators read the node's capacity (`AGENTOS_OPERATOR_TENANT`). */
  operatorTenantId: string;
};

/** Refuses anyone but an operator of the platform's own tenant: the scope alone is not enough. */
function requirePlatformOperator(auth: AuthContext, operatorTenantId: string): void {
  if (auth.tenant_id !== operatorTenantId) {
    throw new ForbiddenError('Only operators of the platform tenant may read the node’s capacity');
  }
}

/** The handler of the capacity report (capacity-api.ts, HLD §10.2). */
export function capacityHandlers(deps: CapacityHandlerDeps): RouteHandlers<typeof capacityRoutes> {
  return {
    async getNodeCapacity({ auth }) {
      requirePlatformOperator(auth, deps.operatorTenantId);
      const [holders, queue, age] = await Promise.all([
        deps.pool.holders(runSlotPools.nodeRunning()),
        deps.queueDepth().catch((cause: unknown) => {
          throw new DependencyUnavailableError('The step queue’s depth could not be read', { cause });
        }),
        deps.stepAge.oldest(),
      ]);
      const body: NodeCapacity = {
        object: 'node_capacity',
        run_slots: {
          in_use: holders.length,
          capacity: deps.nodeMaxConcurrentRuns,
          mode: deps.nodeCapacityMode,
        },
        step_queue: {
          ...queue,
          oldest_message_age_ms: age.maxAgeMs,
          age_window_seconds: age.windowSeconds,
        },
        measured_at: deps.now().toISOString(),
      };
      return { status: 200, json: body };
    },
  };
}
