import { maybeEnv, optionalEnv } from '../config/env.ts';
import type { EnvSource } from '../config/env.ts';

/** Options every AWS SDK client of AgentOS is built with. */
export type AwsClientConfig = { region: string; endpoint?: string; maxAttempts: number };

/**
 * Region and endpoint for SDK clients. `AGENTOS_AWS_ENDPOINT` points every client at an emulator
 * (moto, LocalStack, …); without it the SDK's own `AWS_ENDPOINT_URL` handling and real AWS apply.
 */
export function awsClientConfig(env: EnvSource = process.env): AwsClientConfig {
  const endpoint = maybeEnv('AGENTOS_AWS_ENDPOINT', env);
  const region = optionalEnv('AWS_REGION', optionalEnv('AWS_DEFAULT_REGION', 'us-east-1', env), env);
  return endpoint === undefined ? { region, maxAttempts: 3 } : { region, endpoint, maxAttempts: 3 };
}
