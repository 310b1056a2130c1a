import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { alertEmailDefinition, resourceNames } from '../resources/definitions.ts';

/**
 * How a deployed node's token verification is configured. Each value is either fixed at synth time
 * (from CDK context) or left to a CloudFormation parameter the deployer supplies.
 */
export type JwtSettings = {
  issuer: string | undefined;
  audience: string | undefined;
  jwksUrl: string | undefined;
};

/** Everything that varies between deployments of the node stack; the rest is in definitions.ts. */
export type NodeSettings = {
  nodeId: string;
  jwt: JwtSettings;
  /**
   * An existing Secrets Manager secret holding the node's private service signing key (a JWK).
   * Without it the stack creates the secret, and the operator puts the key into it.
   */
  serviceSigningKeySecretArn: string | undefined;
  alertSender: string;
  /** Development nodes only: let `cdk destroy` delete the table and logs instead of retaining them. */
  destroyOnRemoval: boolean;
  logRetention: RetentionDays;
};

/** The CDK context keys a deployment can set (`cdk synth -c agentos:nodeId=dev`). */
export const contextKeys = {
  nodeId: 'agentos:nodeId',
  jwtIssuer: 'agentos:jwtIssuer',
  jwtAudience: 'agentos:jwtAudience',
  jwksUrl: 'agentos:jwksUrl',
  serviceSigningKeySecretArn: 'agentos:serviceSigningKeySecretArn',
  alertSender: 'agentos:alertSender',
  destroyOnRemoval: 'agentos:destroyOnRemoval',
  logRetention: 'agentos:logRetentionDays',
} as const;

/** Reads one context value; anything else than a non-empty string or a boolean/number is absent. */
export type ContextReader = (key: string) => unknown;

function stringContext(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`Context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** `-c key=true` arrives as the string "true"; cdk.json can hold a real boolean. */
function booleanContext(read: ContextReader, key: string, fallback: boolean): boolean {
  const value = read(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`Context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

const retentionChoices: readonly number[] = Object.values(RetentionDays).filter(
  (value) => typeof value === 'number',
);

function retentionContext(read: ContextReader, key: string, fallback: RetentionDays): RetentionDays {
  const raw = stringContext(read, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!retentionChoices.includes(value) || value === RetentionDays.INFINITE) {
    throw new Error(
      `Context ${key} must be a CloudWatch Logs retention in days (1, 3, 5, 7, 14, 30, …), got "${raw}"`,
    );
  }
  return value as RetentionDays;
}

function secretArnContext(read: ContextReader, key: string): string | undefined {
  const arn = stringContext(read, key);
  // A complete ARN ends in the 6-character suffix Secrets Manager adds; IAM grants need it exact.
  if (
    arn !== undefined &&
    !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(arn)
  ) {
    throw new Error(`Context ${key} must be a complete Secrets Manager secret ARN, got "${arn}"`);
  }
  return arn;
}

/** Default node id of a deployment that sets none. */
export const defaultNodeId = 'main';

/** Default CloudWatch Logs retention of the functions' log groups. */
export const defaultLogRetention = RetentionDays.ONE_MONTH;

/** Builds a node's settings from CDK context, validating every value before anything is synthesized. */
export function nodeSettingsFromContext(read: ContextReader): NodeSettings {
  const nodeId = stringContext(read, contextKeys.nodeId) ?? defaultNodeId;
  resourceNames(nodeId);
  return {
    nodeId,
    jwt: {
      issuer: stringContext(read, contextKeys.jwtIssuer),
      audience: stringContext(read, contextKeys.jwtAudience),
      jwksUrl: stringContext(read, contextKeys.jwksUrl),
    },
    serviceSigningKeySecretArn: secretArnContext(read, contextKeys.serviceSigningKeySecretArn),
    alertSender: stringContext(read, contextKeys.alertSender) ?? alertEmailDefinition.defaultSender,
    destroyOnRemoval: booleanContext(read, contextKeys.destroyOnRemoval, false),
    logRetention: retentionContext(read, contextKeys.logRetention, defaultLogRetention),
  };
}
