import { defaultAwsClientTimeouts } from '../../functions/shared/aws/client-config.ts';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';

/** Where a deployed stack lives: an AWS endpoint (an emulator's, or none for AWS), region and credentials. */
export type DeployedAwsSettings = {
  region: string;
  /** An emulator's endpoint, e.g. `http://localhost:4566`; absent means AWS itself. */
  endpoint?: string;
  /** Absent: the SDK's default credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
};

/** SDK client options: {@link AwsClientConfig} (timeouts, bounded retries) plus credentials. */
export type DeployedClientConfig = AwsClientConfig & {
  credentials?: DeployedAwsSettings['credentials'];
  /** Only for S3: an emulator on `localhost:PORT` has no per-bucket host names. */
  forcePathStyle?: boolean;
};

/**
 * Bounds on one attempt of a control-plane call (CloudFormation, Lambda, API Gateway, SQS): the
 * same budget the services use, so a stalled endpoint fails in seconds instead of hanging start-up.
 */
const controlPlane = defaultAwsClientTimeouts;

/** A code download may be tens of megabytes: give each attempt longer, with the same retry budget. */
const downloadRequestTimeoutMs = 60_000;

/** Options for the SDK clients that read a deployed stack, each call bounded in time and retries. */
export function deployedClientConfig(
  settings: DeployedAwsSettings,
  purpose: 'control-plane' | 'download' = 'control-plane',
): DeployedClientConfig {
  const requestTimeout = purpose === 'download' ? downloadRequestTimeoutMs : controlPlane.requestTimeoutMs;
  return {
    region: settings.region,
    maxAttempts: controlPlane.maxAttempts,
    requestHandler: {
      connectionTimeout: controlPlane.connectTimeoutMs,
      requestTimeout,
      throwOnRequestTimeout: true,
    },
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    // A copy: the SDK marks the credentials object it is given (`$source`), the caller's stays as it was.
    ...(settings.credentials === undefined ? {} : { credentials: { ...settings.credentials } }),
  };
}
