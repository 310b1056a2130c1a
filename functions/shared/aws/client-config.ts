import type { EnvSource } from '../config/env.ts';
import { defineEnvContract, envVar } from '../config/env-contract.ts';
import type { EnvValues } from '../config/env-contract.ts';

/** Options every AWS SDK client of AgentOS is built with. */
export type AwsClientConfig = {
  region: string;
  endpoint?: string;
  /** Attempts per call, the first included (the SDK's standard retry with backoff between them). */
  maxAttempts: number;
  /** Bounds on one attempt, so a stalled dependency fails fast instead of hanging the caller (the
   * services always set them; tooling that provisions may leave the SDK defaults). */
  requestHandler?: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
};

/**
 * Defaults sized so a call's whole retry budget (3 attempts × 3 s, plus the SDK's sub-second
 * backoff) ends well inside API Gateway's 29 s for buffered calls and a step worker's timeout
 * (HLD §10.1).
 */
export const defaultAwsClientTimeouts = { connectTimeoutMs: 1_000, requestTimeoutMs: 3_000, maxAttempts: 3 };

/**
 * The AWS client settings every function reads. `AGENTOS_AWS_ENDPOINT` points every client at an
 * emulator (moto, LocalStack, …); without it the SDK's own `AWS_ENDPOINT_URL` handling and real AWS
 * apply. `AWS_REGION` is set by the Lambda runtime.
 */
export const awsClientEnv = defineEnvContract({
  AWS_REGION: envVar.optionalString(),
  AWS_DEFAULT_REGION: envVar.optionalString(),
  AGENTOS_AWS_ENDPOINT: envVar.optionalUrl(),
  AGENTOS_AWS_CONNECT_TIMEOUT_MS: envVar.int({ default: defaultAwsClientTimeouts.connectTimeoutMs, min: 1 }),
  AGENTOS_AWS_REQUEST_TIMEOUT_MS: envVar.int({ default: defaultAwsClientTimeouts.requestTimeoutMs, min: 1 }),
  AGENTOS_AWS_MAX_ATTEMPTS: envVar.int({ default: defaultAwsClientTimeouts.maxAttempts, min: 1, max: 10 }),
});

/** Builds the client options from parsed {@link awsClientEnv} values. */
export function awsClientConfigFrom(values: EnvValues<typeof awsClientEnv.variables>): AwsClientConfig {
  const config: AwsClientConfig = {
    region: values.AWS_REGION ?? values.AWS_DEFAULT_REGION ?? 'us-east-1',
    maxAttempts: values.AGENTOS_AWS_MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: values.AGENTOS_AWS_CONNECT_TIMEOUT_MS,
      requestTimeout: values.AGENTOS_AWS_REQUEST_TIMEOUT_MS,
      // Without it the SDK only warns when an attempt exceeds requestTimeout, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
  return values.AGENTOS_AWS_ENDPOINT === undefined
    ? config
    : { ...config, endpoint: values.AGENTOS_AWS_ENDPOINT };
}

/**
 * Region, endpoint, timeouts and retry budget for SDK clients, read from `env`; zero, a non-integer
 * or a value out of range is refused with a ConfigurationError naming the variable.
 */
export function awsClientConfig(env: EnvSource = process.env): AwsClientConfig {
  return awsClientConfigFrom(awsClientEnv.parse(env));
}
