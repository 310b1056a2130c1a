import { describe, expect, it } from 'vitest';
import {
  eventStreamTimingFromEnv,
  nodeRunLimitsFromEnv,
  orchestratorConfigFromEnv,
  stepWorkerConfigFromEnv,
} from '../../../functions/orchestrator/composition/orchestrator-config.ts';

const core = {
  AGENTOS_TABLE_NAME: 'agentos-test',
  AGENTOS_STEP_QUEUE_URL: 'http://localhost:5000/000000000000/steps',
  AGENTOS_DEADLINE_QUEUE_URL: 'http://localhost:5000/000000000000/deadlines',
  AGENTOS_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:deadline',
  AGENTOS_LONG_RUN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:long-run',
};
const http = {
  ...core,
  AGENTOS_TRUSTED_ISSUERS: JSON.stringify([
    { issuer: 'https://issuer.test/', jwks_url: 'https://issuer.test/jwks.json' },
  ]),
  AGENTOS_JWT_AUDIENCE: 'agentos',
  AGENTOS_NODE_ISSUER: 'https://agentos.test/node',
  AGENTOS_NODE_JWKS: JSON.stringify({ keys: [] }),
};
const worker = {
  ...http,
  AGENTOS_NODE_ISSUER: 'https://orchestrator.test/prod',
  AGENTOS_MODEL_POLICY_URL: 'http://localhost:5001/',
  AGENTOS_SERVICE_SIGNING_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:0:secret:key',
  AGENTOS_STEP_MAX_RECEIVES: '5',
};

describe('orchestrator environment', () => {
  it('returns the shared settings with a one-day idempotency window by default', () => {
    expect(orchestratorConfigFromEnv(core)).toEqual({
      tableName: 'agentos-test',
      stepQueueUrl: core.AGENTOS_STEP_QUEUE_URL,
      deadlineQueueUrl: core.AGENTOS_DEADLINE_QUEUE_URL,
      stateMachineArn: core.AGENTOS_STATE_MACHINE_ARN,
      longRunStateMachineArn: core.AGENTOS_LONG_RUN_STATE_MACHINE_ARN,
      longRunHeartbeatSeconds: 60,
      idempotencyTtlSeconds: 86_400,
    });
  });

  it('throws when the idempotency window is under a day instead of raising it', () => {
    expect(() => orchestratorConfigFromEnv({ ...core, AGENTOS_IDEMPOTENCY_TTL_SECONDS: '60' })).toThrow(
      /AGENTOS_IDEMPOTENCY_TTL_SECONDS: must be an integer at least 86400/,
    );
  });

  it('throws when the stream keep-alive is outside 1–15 s or the idle poll is below the busy one', () => {
    expect(() => eventStreamTimingFromEnv({ ...http, AGENTOS_SSE_KEEPALIVE_MS: '30000' })).toThrow(
      /AGENTOS_SSE_KEEPALIVE_MS/,
    );
    expect(() =>
      eventStreamTimingFromEnv({ ...http, AGENTOS_SSE_POLL_MIN_MS: '400', AGENTOS_SSE_POLL_MAX_MS: '100' }),
    ).toThrow(/AGENTOS_SSE_POLL_MAX_MS is below AGENTOS_SSE_POLL_MIN_MS/);
    expect(eventStreamTimingFromEnv({ ...http, AGENTOS_SSE_POLL_MAX_MS: '200' }).pollMaxMs).toBe(200);
  });

  it('throws when the step worker is not told the queue redrive count or its Model Policy URL', () => {
    expect(stepWorkerConfigFromEnv(worker).maxReceives).toBe(5);
    expect(() => stepWorkerConfigFromEnv({ ...worker, AGENTOS_STEP_MAX_RECEIVES: undefined })).toThrow(
      /AGENTOS_STEP_MAX_RECEIVES: is required/,
    );
    expect(() => stepWorkerConfigFromEnv({ ...worker, AGENTOS_MODEL_POLICY_URL: 'model-policy' })).toThrow(
      /AGENTOS_MODEL_POLICY_URL: must be an absolute URL/,
    );
  });

  it('returns the node run capacity, queueing runs past 1000 by default', () => {
    expect(nodeRunLimitsFromEnv(core)).toEqual({
      nodeMaxConcurrentRuns: 1_000,
      nodeCapacityMode: 'queue',
      runSlotLeaseSeconds: 300,
    });
    expect(
      nodeRunLimitsFromEnv({
        ...core,
        AGENTOS_NODE_MAX_CONCURRENT_RUNS: '20',
        AGENTOS_NODE_CAPACITY_MODE: 'reject',
      }),
    ).toMatchObject({ nodeMaxConcurrentRuns: 20, nodeCapacityMode: 'reject' });
  });

  it('throws when the node capacity mode is neither queue nor reject', () => {
    expect(() => nodeRunLimitsFromEnv({ ...core, AGENTOS_NODE_CAPACITY_MODE: 'drop' })).toThrow(
      /AGENTOS_NODE_CAPACITY_MODE: must be queue or reject/,
    );
  });
});
