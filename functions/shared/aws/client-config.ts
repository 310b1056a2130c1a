import { intEnv, maybeEnv, optionalEnv } from '../config/env.ts';
import type { EnvSource } from '../config/env.ts';
import { ConfigurationError } from '../errors/agentos-error.ts';

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

function positive(name: string, fallback: number, env: EnvSource): number {
  const value = intEnv(name, fallback, env);
  if (value === 0) throw new ConfigurationError(`Environment variable ${name} must be at least 1`);
  return value;
}

/**
 * Region, endpoint, timeouts and retry budget for SDK clients. `AGENTOS_AWS_ENDPOINT` points every
 * client at an emulator (moto, LocalStack, …); without it the SDK's own `AWS_ENDPOINT_URL` handling
 * and real AWS apply. `AGENTOS_AWS_CONNECT_TIMEOUT_MS`, `AGENTOS_AWS_REQUEST_TIMEOUT_MS` and
 * `AGENTOS_AWS_MAX_ATTEMPTS` override the defaults; zero or a non-integer is refused.
 */
export function awsClientConfig(env: EnvSource = process.env): AwsClientConfig {
  const endpoint = maybeEnv('AGENTOS_AWS_ENDPOINT', env);
  const region = optionalEnv('AWS_REGION', optionalEnv('AWS_DEFAULT_REGION', 'us-east-1', env), env);
  const config: AwsClientConfig = {
    region,
    maxAttempts: positive('AGENTOS_AWS_MAX_ATTEMPTS', defaultAwsClientTimeouts.maxAttempts, env),
    requestHandler: {
      connectionTimeout: positive(
        'AGENTOS_AWS_CONNECT_TIMEOUT_MS',
        defaultAwsClientTimeouts.connectTimeoutMs,
        env,
      ),
      requestTimeout: positive(
        'AGENTOS_AWS_REQUEST_TIMEOUT_MS',
        defaultAwsClientTimeouts.requestTimeoutMs,
        env,
      ),
      // Without it the SDK only warns when an attempt exceeds requestTimeout, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  };
  return endpoint === undefined ? config : { ...config, endpoint };
}
