import { InvalidArgumentError } from 'commander';
import type { NodeConfig } from '../config/node-config.ts';
import { RegionSchema, StageSchema } from '../config/node-config.ts';

/**
 * Where a command acts. `local`: the node on this machine (`--local`). `aws`: a deployment in an
 * AWS account, reached through the standard credential chain (or `--profile`). `endpoint`: the same
 * deployment path against an AWS-compatible emulator (`--endpoint URL`: the embedded moto or a
 * LocalStack-compatible one).
 */
export type Target =
  | { kind: 'local'; nodeId: string; portBase: number }
  | { kind: 'aws'; stage: string; region: string; profile?: string }
  | { kind: 'endpoint'; stage: string; region: string; endpoint: string };

/** A target reached through the AWS APIs (a real account or an emulator). */
export type RemoteTarget = Exclude<Target, { kind: 'local' }>;

/** The target options every command accepts. */
export type TargetFlags = {
  local?: boolean;
  endpoint?: string;
  profile?: string;
  region?: string;
  stage?: string;
  nodeId: string;
  portBase: number;
};

/**
 * moto serves the template URL the CDK hands to CloudFormation only when it is addressed by name,
 * so a loopback address becomes `localhost` (the same server for every other client).
 */
function normalizedEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`--endpoint must be a URL such as http://localhost:4566, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidArgumentError(`--endpoint must be an http(s) URL, got "${raw}"`);
  if (url.hostname === '127.0.0.1') url.hostname = 'localhost';
  return url.origin;
}

function parsedOr<T>(
  schema: { safeParse(v: unknown): { success: boolean; data?: T } },
  value: string,
  what: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success || result.data === undefined)
    throw new InvalidArgumentError(`${what} "${value}" is invalid`);
  return result.data;
}

/**
 * Picks the one target of a command from its flags, the node configuration and the environment:
 * `--local`, else `--endpoint`, else AWS. Flags override the configuration; a remote target needs a
 * region (flag, configuration, `AWS_REGION` or `AWS_DEFAULT_REGION`; an emulator defaults to
 * us-east-1).
 */
export function resolveTarget(
  flags: TargetFlags,
  config: NodeConfig,
  env: NodeJS.ProcessEnv = process.env,
): Target {
  if (flags.local === true) {
    const remote = (['endpoint', 'profile', 'region', 'stage'] as const).filter(
      (key) => flags[key] !== undefined,
    );
    if (remote.length > 0)
      throw new InvalidArgumentError(
        `--local cannot be combined with ${remote.map((key) => `--${key}`).join(', ')}: pick one target`,
      );
    return { kind: 'local', nodeId: flags.nodeId, portBase: flags.portBase };
  }
  const stage =
    flags.stage === undefined ? config.stage : parsedOr<string>(StageSchema, flags.stage, '--stage');
  const regionText = flags.region ?? config.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const region = regionText === undefined ? undefined : parsedOr<string>(RegionSchema, regionText, 'region');
  if (flags.endpoint !== undefined) {
    if (flags.profile !== undefined)
      throw new InvalidArgumentError(
        '--endpoint cannot be combined with --profile: an emulator takes any credentials',
      );
    return {
      kind: 'endpoint',
      stage,
      region: region ?? 'us-east-1',
      endpoint: normalizedEndpoint(flags.endpoint),
    };
  }
  if (region === undefined)
    throw new InvalidArgumentError(
      'no AWS region: pass --region, set "region" in the node configuration or AWS_REGION (or use --local / --endpoint URL)',
    );
  const profile = flags.profile ?? config.profile;
  return { kind: 'aws', stage, region, ...(profile === undefined ? {} : { profile }) };
}

/** How a target is named in output and reports. */
export function describeTarget(target: Target): string {
  switch (target.kind) {
    case 'local':
      return `local node "${target.nodeId}"`;
    case 'endpoint':
      return `stage "${target.stage}" on the emulator at ${target.endpoint} (${target.region})`;
    case 'aws':
      return `stage "${target.stage}" in ${target.region}${target.profile === undefined ? '' : ` (profile ${target.profile})`}`;
  }
}

/** Settings for the operator's AWS SDK clients: bounded attempts, each with a timeout. */
export type OperatorClientConfig = {
  region: string;
  endpoint?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts: number;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
};

/**
 * Client settings for a remote target. An emulator gets the environment's static keys, or test
 * keys when there are none (emulators accept any); AWS gets the standard chain, or the profile.
 */
export function operatorClientConfig(
  target: RemoteTarget,
  env: NodeJS.ProcessEnv = process.env,
): OperatorClientConfig {
  const base = {
    region: target.region,
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: 3_000,
      requestTimeout: 20_000,
      throwOnRequestTimeout: true as const,
    },
  };
  if (target.kind === 'endpoint') {
    return {
      ...base,
      endpoint: target.endpoint,
      credentials: {
        accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? 'test',
        secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? 'test',
      },
    };
  }
  return target.profile === undefined ? base : { ...base, profile: target.profile };
}

/**
 * The environment the CDK CLI runs with for a remote target: its region, profile or emulator
 * endpoint and keys. Nothing else of the operator's environment is changed.
 */
export function cdkEnvironment(
  target: RemoteTarget,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const next: NodeJS.ProcessEnv = { ...env, AWS_REGION: target.region, AWS_DEFAULT_REGION: target.region };
  if (target.kind === 'endpoint') {
    const { credentials } = operatorClientConfig(target, env);
    next['AWS_ENDPOINT_URL'] = target.endpoint;
    // An emulator's keys are static: no instance-metadata lookup (slow off EC2) is wanted.
    next['AWS_EC2_METADATA_DISABLED'] = 'true';
    next['AWS_ACCESS_KEY_ID'] = credentials?.accessKeyId;
    next['AWS_SECRET_ACCESS_KEY'] = credentials?.secretAccessKey;
    delete next['AWS_PROFILE'];
  } else if (target.profile !== undefined) {
    next['AWS_PROFILE'] = target.profile;
  }
  return next;
}
