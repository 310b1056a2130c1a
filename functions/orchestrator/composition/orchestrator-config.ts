import { telemetryEnv } from '../../shared/observability/telemetry-env.ts';
import { maxSlotPoolCapacity } from '../../shared/limits/limiter-port.ts';
import { z } from 'zod';
import { corsEnv } from '../../shared/http/cors.ts';
import { jwtVerifierEnv, nodeJwksEnv, serviceTokenEnv } from '../../shared/auth/auth-config.ts';
import { TenantIdSchema } from '../../shared/auth/auth-context.ts';
import { awsClientEnv } from '../../shared/aws/client-config.ts';
import { tenancyEnv } from '../../shared/tenancy/tenancy-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { defineEnvContract, envVar } from '../../shared/config/env-contract.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { defaultEventStreamTiming } from '../events/run-event-stream.ts';
import type { EventStreamTiming } from '../events/run-event-stream.ts';
import { defaultStreamLimits } from '../events/run-event-hub.ts';
import { federationEnv } from '../federation/federation-config.ts';
import type { StreamLimits } from '../events/run-event-hub.ts';

const day = 24 * 3600;

/** The operator tenant unless `AGENTOS_OPERATOR_TENANT` names another (the Model Policy's default too). */
export const defaultOperatorTenantId = 'operator';

/** What every Orchestrator function reads: AWS clients, the node's table, the step and deadline queues. */
export const orchestratorCoreEnv = awsClientEnv.extend({
  ...tenancyEnv.variables,
  ...telemetryEnv.variables,
  AGENTOS_TABLE_NAME: envVar.string(),
  AGENTOS_STEP_QUEUE_URL: envVar.url(),
  /**
   * The deadline queue: a run deadline at most 15 minutes away is one message delayed on it, rather
   * than an execution of the run-deadline state machine (HLD §4.3).
   */
  AGENTOS_DEADLINE_QUEUE_URL: envVar.url(),
  /** The run-deadline state machine. */
  AGENTOS_STATE_MACHINE_ARN: envVar.string(),
  /** The long-run state machine, which drives the steps of `long` runs (HLD §4.3). */
  AGENTOS_LONG_RUN_STATE_MACHINE_ARN: envVar.string(),
  /**
   * A step of a long run that sends no heartbeat for this long is timed out and retried; the worker
   * heartbeats three times as often.
   */
  AGENTOS_LONG_RUN_HEARTBEAT_SECONDS: envVar.int({ default: 60, min: 1, max: 900 }),
  /** How long an idempotency key is remembered; clients may retry for a day, so never less. */
  AGENTOS_IDEMPOTENCY_TTL_SECONDS: envVar.int({ default: day, min: day }),
  /** Runs the node runs at once across its tenants (HLD §10.2); more wait or are refused. */
  AGENTOS_NODE_MAX_CONCURRENT_RUNS: envVar.int({ default: 1_000, min: 1, max: maxSlotPoolCapacity }),
  /**
   * What a new run meets while the node runs as many runs as it may: `queue` (it waits `queued`,
   * saying so in `status_reason`) or `reject` (429 `rate_limited`, `node_concurrent_runs`).
   */
  AGENTOS_NODE_CAPACITY_MODE: z
    .string()
    .optional()
    .transform((raw) => raw?.trim() || 'queue')
    .pipe(z.enum(['queue', 'reject'], { error: 'must be queue or reject' })),
  /**
   * Shortest lease of a run slot; a step's lease is at least its step timeout plus a minute, so a
   * worker that dies holding a slot loses it within that time.
   */
  AGENTOS_RUN_SLOT_LEASE_SECONDS: envVar.int({ default: 300, min: 30, max: 43_200 }),
});

/** The environment of the Orchestrator's HTTP functions (the runs API and the event stream). */
export const orchestratorHttpEnv = orchestratorCoreEnv.extend({
  ...jwtVerifierEnv.variables,
  ...nodeJwksEnv.variables,
  // The tenant admin API issues principals' tokens with the node's key (HLD §3.3).
  ...serviceTokenEnv.variables,
  ...corsEnv.variables,
  // What the Federation API's discovery routes say about the node (HLD §7.2).
  ...federationEnv.variables,
  /** Poll interval right after events arrived; shorter is a busy loop on the table. */
  AGENTOS_SSE_POLL_MIN_MS: envVar.int({ default: defaultEventStreamTiming.pollMinMs, min: 10 }),
  AGENTOS_SSE_POLL_MAX_MS: envVar.int({ default: defaultEventStreamTiming.pollMaxMs, min: 10 }),
  /** Between 1 s (anything shorter is a busy loop) and the 15 s clients may rely on. */
  AGENTOS_SSE_KEEPALIVE_MS: envVar.int({
    default: defaultEventStreamTiming.keepAliveMs,
    min: 1_000,
    max: 15_000,
  }),
  AGENTOS_SSE_MAX_DURATION_MS: envVar.int({ default: defaultEventStreamTiming.maxDurationMs, min: 1_000 }),
  AGENTOS_SSE_RETRY_MS: envVar.int({ default: defaultEventStreamTiming.retryMs, min: 0 }),
  /** How long the stream token of a run's `events_url` opens its events; minutes, so a leaked URL soon expires. */
  AGENTOS_STREAM_TOKEN_TTL_SECONDS: envVar.int({ default: 300, min: 10, max: 3_600 }),
  /**
   * The API's public base URL (a deployed node's stage URL), for absolute `events_url`s; unset, the
   * base a request arrived at.
   */
  AGENTOS_PUBLIC_API_URL: envVar.optionalUrl(),
  /** Event streams one process serves at once; one more is refused with 429. */
  AGENTOS_SSE_MAX_STREAMS: envVar.int({ default: defaultStreamLimits.maxStreams, min: 1 }),
  /** Event streams one tenant may hold open in one process. */
  AGENTOS_SSE_MAX_STREAMS_PER_TENANT: envVar.int({
    default: defaultStreamLimits.maxStreamsPerTenant,
    min: 1,
  }),
  /** Events a run's shared reader keeps for streams that are a little behind. */
  AGENTOS_SSE_BUFFERED_EVENTS: envVar.int({
    default: defaultStreamLimits.bufferedEvents,
    min: 10,
    max: 100_000,
  }),
  /**
   * The platform tenant whose operators (scope `operator`) administer the others; the same variable
   * and default as the Model Policy's.
   */
  AGENTOS_OPERATOR_TENANT: z
    .string()
    .optional()
    .transform((value) => value ?? defaultOperatorTenantId)
    .pipe(TenantIdSchema),
});

/** The environment of the step worker, which calls the Model Policy on the run's principal's behalf. */
export const stepWorkerEnv = orchestratorCoreEnv.extend({
  ...serviceTokenEnv.variables,
  // A forwarded run's events are pushed to its origin as they commit, with a peer token naming this
  // node (HLD §7.4).
  ...federationEnv.variables,
  AGENTOS_MODEL_POLICY_URL: envVar.url(),
  AGENTOS_MODEL_TIMEOUT_MS: envVar.int({ default: 60_000, min: 1 }),
  /** Attempts of a step that failed with a retryable error before the run fails. */
  AGENTOS_STEP_MAX_ATTEMPTS: envVar.int({ default: 3, min: 1 }),
  /** Upper bound of the backoff before a retried step is redelivered. */
  AGENTOS_STEP_RETRY_MAX_DELAY_SECONDS: envVar.int({ default: 300, min: 1, max: 43_200 }),
  /** The step queue's redrive `maxReceiveCount`: the delivery on which the worker gives a step up. */
  AGENTOS_STEP_MAX_RECEIVES: envVar.int({ min: 1, max: 1_000 }),
  /**
   * Secrets Manager prefix of HTTP tools' credentials (`agentos/<stage>/tools`): a tenant's secret is
   * `<prefix>/<tenant_id>/<secret>`. Unset: tools that need credentials fail with `failed`.
   */
  AGENTOS_TOOL_SECRET_PREFIX: envVar.optionalString(),
  /**
   * Destinations tools may reach despite the SSRF policy, comma-separated `host` or `host:port`
   * (`127.0.0.1:8799`, `[::1]:8799`): only for a local node's own test servers. Empty refuses them all.
   */
  AGENTOS_TOOL_ALLOWED_HOSTS: envVar.optionalString(),
});

/** Settings every Orchestrator function shares. */
export type OrchestratorConfig = {
  tableName: string;
  stepQueueUrl: string;
  deadlineQueueUrl: string;
  stateMachineArn: string;
  longRunStateMachineArn: string;
  longRunHeartbeatSeconds: number;
  idempotencyTtlSeconds: number;
};

/** The node's run capacity (HLD §10.2). */
export type NodeRunLimits = {
  nodeMaxConcurrentRuns: number;
  nodeCapacityMode: 'queue' | 'reject';
  runSlotLeaseSeconds: number;
};

/** Settings of the step worker. */
export type StepWorkerConfig = {
  modelPolicyUrl: string;
  modelTimeoutMs: number;
  stepMaxAttempts: number;
  stepRetryMaxDelaySeconds: number;
  maxReceives: number;
  /** Where HTTP tools' credentials live; undefined when the node has none. */
  toolSecretPrefix: string | undefined;
  /** `host` or `host:port` entries tools may reach despite the SSRF policy. */
  toolAllowedHosts: string[];
};

/** Reads the settings every Orchestrator function shares, throwing on the bad ones. */
export function orchestratorConfigFromEnv(env: EnvSource = process.env): OrchestratorConfig {
  const values = orchestratorCoreEnv.parse(env);
  return {
    tableName: values.AGENTOS_TABLE_NAME,
    stepQueueUrl: values.AGENTOS_STEP_QUEUE_URL,
    deadlineQueueUrl: values.AGENTOS_DEADLINE_QUEUE_URL,
    stateMachineArn: values.AGENTOS_STATE_MACHINE_ARN,
    longRunStateMachineArn: values.AGENTOS_LONG_RUN_STATE_MACHINE_ARN,
    longRunHeartbeatSeconds: values.AGENTOS_LONG_RUN_HEARTBEAT_SECONDS,
    idempotencyTtlSeconds: values.AGENTOS_IDEMPOTENCY_TTL_SECONDS,
  };
}

/** Reads the node's run capacity, throwing on the bad values. */
export function nodeRunLimitsFromEnv(env: EnvSource = process.env): NodeRunLimits {
  const values = orchestratorCoreEnv.parse(env);
  return {
    nodeMaxConcurrentRuns: values.AGENTOS_NODE_MAX_CONCURRENT_RUNS,
    nodeCapacityMode: values.AGENTOS_NODE_CAPACITY_MODE,
    runSlotLeaseSeconds: values.AGENTOS_RUN_SLOT_LEASE_SECONDS,
  };
}

/**
 * The step worker's model call timeout alone, which the run slots' renewal needs wherever they are
 * composed (a step can outlast its step timeout by it, HLD §10.2).
 */
export function modelTimeoutMsFromEnv(env: EnvSource = process.env): number {
  const contract = defineEnvContract({
    AGENTOS_MODEL_TIMEOUT_MS: stepWorkerEnv.variables.AGENTOS_MODEL_TIMEOUT_MS,
  });
  return contract.parse(env).AGENTOS_MODEL_TIMEOUT_MS;
}

/** Reads the event stream's timing, throwing on the bad values. */
export function eventStreamTimingFromEnv(env: EnvSource = process.env): EventStreamTiming {
  const values = orchestratorHttpEnv.parse(env);
  if (values.AGENTOS_SSE_POLL_MAX_MS < values.AGENTOS_SSE_POLL_MIN_MS) {
    throw new ConfigurationError(
      `Invalid environment: ${orchestratorHttpEnv.names.AGENTOS_SSE_POLL_MAX_MS} is below ${orchestratorHttpEnv.names.AGENTOS_SSE_POLL_MIN_MS}`,
    );
  }
  return {
    pollMinMs: values.AGENTOS_SSE_POLL_MIN_MS,
    pollMaxMs: values.AGENTOS_SSE_POLL_MAX_MS,
    keepAliveMs: values.AGENTOS_SSE_KEEPALIVE_MS,
    maxDurationMs: values.AGENTOS_SSE_MAX_DURATION_MS,
    retryMs: values.AGENTOS_SSE_RETRY_MS,
  };
}

/** Reads the limits on the event streams of one process. */
export function streamLimitsFromEnv(env: EnvSource = process.env): StreamLimits {
  const values = orchestratorHttpEnv.parse(env);
  return {
    maxStreams: values.AGENTOS_SSE_MAX_STREAMS,
    maxStreamsPerTenant: values.AGENTOS_SSE_MAX_STREAMS_PER_TENANT,
    bufferedEvents: values.AGENTOS_SSE_BUFFERED_EVENTS,
  };
}

/** Reads the step worker's settings, throwing on the bad ones. */
export function stepWorkerConfigFromEnv(env: EnvSource = process.env): StepWorkerConfig {
  const values = stepWorkerEnv.parse(env);
  return {
    modelPolicyUrl: values.AGENTOS_MODEL_POLICY_URL,
    modelTimeoutMs: values.AGENTOS_MODEL_TIMEOUT_MS,
    stepMaxAttempts: values.AGENTOS_STEP_MAX_ATTEMPTS,
    stepRetryMaxDelaySeconds: values.AGENTOS_STEP_RETRY_MAX_DELAY_SECONDS,
    maxReceives: values.AGENTOS_STEP_MAX_RECEIVES,
    toolSecretPrefix: values.AGENTOS_TOOL_SECRET_PREFIX?.trim() || undefined,
    toolAllowedHosts: (values.AGENTOS_TOOL_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  };
}

/** Settings of the administration APIs (operator and tenant admin). */
export type AdminConfig = {
  /** The tenant whose `operator` tokens may administer tenants. */
  operatorTenantId: string;
  /** The longest lifetime of a token issued to a principal (the verifier's maximum). */
  maxTokenLifetimeSeconds: number;
};

/** How the runs API mints its events URLs. */
export type StreamTokenConfig = { ttlSeconds: number; publicBaseUrl: string | undefined };

/** Reads the stream token settings, throwing on the bad values. */
export function streamTokenConfigFromEnv(env: EnvSource = process.env): StreamTokenConfig {
  const values = orchestratorHttpEnv.parse(env);
  return {
    ttlSeconds: values.AGENTOS_STREAM_TOKEN_TTL_SECONDS,
    publicBaseUrl: values.AGENTOS_PUBLIC_API_URL,
  };
}

/** Reads the administration APIs' settings, throwing on the bad ones. */
export function adminConfigFromEnv(env: EnvSource = process.env): AdminConfig {
  const values = orchestratorHttpEnv.parse(env);
  return {
    operatorTenantId: values.AGENTOS_OPERATOR_TENANT,
    maxTokenLifetimeSeconds: values.AGENTOS_JWT_MAX_LIFETIME_SECONDS,
  };
}
