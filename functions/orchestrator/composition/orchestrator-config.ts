import { intEnv, requiredEnv } from '../../shared/config/env.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { defaultEventStreamTiming } from '../events/run-event-stream.ts';
import type { EventStreamTiming } from '../events/run-event-stream.ts';

/** Settings of the Orchestrator's Lambdas, read once per process. */
export type OrchestratorConfig = {
  tableName: string;
  stepQueueUrl: string;
  /** The run-deadline state machine. */
  stateMachineArn: string;
  modelPolicyUrl: string;
  modelTimeoutMs: number;
  stepMaxAttempts: number;
  /** Upper bound of the backoff before a retried step is redelivered. */
  stepRetryMaxDelaySeconds: number;
  idempotencyTtlSeconds: number;
  eventStream: EventStreamTiming;
};

/** Reads the Orchestrator's settings, throwing on the first missing one. */
export function orchestratorConfigFromEnv(env: EnvSource = process.env): OrchestratorConfig {
  return {
    tableName: requiredEnv('AGENTOS_TABLE_NAME', env),
    stepQueueUrl: requiredEnv('AGENTOS_STEP_QUEUE_URL', env),
    stateMachineArn: requiredEnv('AGENTOS_STATE_MACHINE_ARN', env),
    modelPolicyUrl: requiredEnv('AGENTOS_MODEL_POLICY_URL', env),
    modelTimeoutMs: intEnv('AGENTOS_MODEL_TIMEOUT_MS', 60_000, env),
    stepMaxAttempts: intEnv('AGENTOS_STEP_MAX_ATTEMPTS', 3, env),
    stepRetryMaxDelaySeconds: intEnv('AGENTOS_STEP_RETRY_MAX_DELAY_SECONDS', 300, env),
    idempotencyTtlSeconds: Math.max(24 * 3600, intEnv('AGENTOS_IDEMPOTENCY_TTL_SECONDS', 24 * 3600, env)),
    eventStream: {
      pollMinMs: Math.max(10, intEnv('AGENTOS_SSE_POLL_MIN_MS', defaultEventStreamTiming.pollMinMs, env)),
      pollMaxMs: intEnv('AGENTOS_SSE_POLL_MAX_MS', defaultEventStreamTiming.pollMaxMs, env),
      // Between 1 s (anything shorter is a busy loop) and the 15 s clients may rely on.
      keepAliveMs: Math.max(
        1_000,
        Math.min(15_000, intEnv('AGENTOS_SSE_KEEPALIVE_MS', defaultEventStreamTiming.keepAliveMs, env)),
      ),
      maxDurationMs: intEnv('AGENTOS_SSE_MAX_DURATION_MS', defaultEventStreamTiming.maxDurationMs, env),
      retryMs: intEnv('AGENTOS_SSE_RETRY_MS', defaultEventStreamTiming.retryMs, env),
    },
  };
}
