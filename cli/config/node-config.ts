import { maxSlotPoolCapacity } from '../../functions/shared/limits/limiter-port.ts';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { normalizeAllowedHost } from '../../functions/shared/net/address-policy.ts';
import { CorsOriginSchema } from '../../functions/shared/http/cors.ts';
import { AlarmOverridesSchema } from '../../functions/shared/observability/alarm-catalog.ts';

/** The retentions CloudWatch Logs offers, in days (finite ones: logs are never kept forever). */
const logRetentionDays: readonly number[] = Object.values(RetentionDays).filter(
  (value): value is number => typeof value === 'number' && value !== RetentionDays.INFINITE,
);

/** A node id doubles as the stage name: it prefixes every physical name of the node. */
export const StageSchema = z
  .string()
  .regex(/^[a-z0-9-]{1,32}$/, 'stages are 1-32 characters of a-z, 0-9 and "-"');

/** An AWS region such as `us-east-1`. */
export const RegionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1');

/**
 * The external identity provider whose tokens the node accepts (users and their applications).
 * The node also trusts itself: it signs service-to-service tokens with its own key.
 */
export const IdentityProviderSchema = z.strictObject({
  /** The provider's `iss`, exactly as its tokens carry it. */
  issuer: z.string().min(1),
  /** Where the provider publishes its signing keys. */
  jwks_url: z.url({ protocol: /^https?$/ }),
});

/**
 * One destination tools may reach although the SSRF policy refuses it (HLD §10.1): `host` (any
 * port) or `host:port`, IPv6 in brackets; stored as the step worker compares it.
 */
export const AllowedHostSchema = z.string().transform((entry, context) => {
  try {
    return normalizeAllowedHost(entry);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/**
 * What an AWS deployment of a node needs beyond the stack's code: read from a JSON file
 * (`--config`, default `agentos.config.json` when present); every command-line flag overrides the
 * matching field. See config/agentos.example.json.
 */
export const NodeConfigSchema = z.strictObject({
  /** Optional pointer to this schema, for editors. */
  $schema: z.string().optional(),
  /** The node id; two stages side by side in one account differ by it. */
  stage: StageSchema.default('main'),
  region: RegionSchema.optional(),
  /** A named profile of the AWS shared config; the standard credential chain without it. */
  profile: z.string().min(1).optional(),
  /** The `aud` every accepted token must carry. */
  audience: z.string().min(1).default('agentos'),
  /** Without one, only the node's own tokens are accepted (`agentos token` mints them on dev stages). */
  identity_provider: IdentityProviderSchema.optional(),
  /**
   * A model catalog JSON file (functions/model-policy/schemas/model-catalog.ts), relative to this
   * file; it ships with the Model Policy's bundle. Without it the node serves the local models only.
   */
  model_catalog: z.string().min(1).optional(),
  /**
   * Secrets Manager names the catalog's `secretsmanager:` references use; preflight checks each
   * exists. They must live under `agentos/<stage>/providers/`, the only secrets the gateway may read.
   */
  provider_secrets: z.array(z.string().min(1)).default([]),
  /** Baseline alerts and their e-mail (HLD §9.3); see docs/alerts.md. */
  alerts: z
    .strictObject({
      /** The SES identity alert e-mail is sent from. */
      sender: z.email().default('alerts@agentos.local'),
      recipients: z.array(z.email()).default([]),
      /** Repeated triggers of one alarm inside this many minutes send one e-mail. */
      window_minutes: z.int().min(1).max(1_440).default(60),
      /** This stage's changes to the catalog's defaults, by alarm id (threshold, evaluation periods, enabled). */
      thresholds: AlarmOverridesSchema.default({}),
      /** How often a local node's evaluator reads its signals: one evaluation period, in seconds. */
      local_period_seconds: z.int().min(5).max(3_600).default(30),
      /**
       * A deployed node mails through this SMTP relay (SES's SMTP interface or any other) instead of
       * the SESv2 API; `credentials_secret` is the complete ARN of a Secrets Manager secret holding
       * `{"user": …, "pass": …}`, the only secret the notifier may read.
       */
      smtp: z
        .strictObject({
          host: z.string().min(1),
          port: z.int().min(1).max(65_535).default(587),
          /** Implicit TLS; STARTTLS is used on other ports when the relay offers it. */
          secure: z.boolean().optional(),
          credentials_secret: z.string().min(1).optional(),
        })
        .optional(),
    })
    .default({
      sender: 'alerts@agentos.local',
      recipients: [],
      window_minutes: 60,
      thresholds: {},
      local_period_seconds: 30,
    }),
  retention: z
    .strictObject({
      /** CloudWatch Logs retention of every log group, in days. */
      log_days: z
        .number()
        .refine((days) => logRetentionDays.includes(days), {
          error: `must be a CloudWatch Logs retention: ${logRetentionDays.join(', ')}`,
        })
        .default(30),
      /**
       * Development stages only: let `nuke` (and `cdk destroy`) delete the table and logs with the
       * stack. Otherwise they are retained, and only `nuke --delete-data` removes them.
       */
      destroy_data_with_stack: z.boolean().default(false),
    })
    .default({ log_days: 30, destroy_data_with_stack: false }),
  /** The agent runtime's tools (HLD §10.1). */
  tools: z
    .strictObject({
      /**
       * Destinations HTTP tools and `http_fetch` may reach although they are private, loopback or
       * link-local: a local node's own test servers. Empty: every non-public destination is refused.
       */
      allowed_hosts: z.array(AllowedHostSchema).max(50).default([]),
    })
    .default({ allowed_hosts: [] }),
  /** Browsers' cross-origin access to the node's APIs (CORS); off while no origin is listed. */
  cors: z
    .strictObject({
      /** Origins (`https://app.example.com`) whose pages may call the APIs. */
      allowed_origins: z.array(CorsOriginSchema).max(64).default([]),
      /** Let those pages send credentials (cookies, HTTP auth). */
      allow_credentials: z.boolean().default(false),
    })
    .default({ allowed_origins: [], allow_credentials: false }),
  /**
   * Federation between nodes (HLD §7). `mtls`, when set, serves the Orchestrator only on this custom
   * domain and demands a client certificate the S3 truststore vouches for (AWS mode; the execute-api
   * endpoint is disabled). Off by default; docs/federation.md.
   */
  federation: z
    .strictObject({
      mtls: z
        .strictObject({
          domain_name: z.string().min(1),
          certificate_arn: z.string().min(1),
          /** `s3://<bucket>/<key>` of the PEM truststore. */
          truststore_uri: z.string().startsWith('s3://'),
          truststore_version: z.string().min(1).optional(),
        })
        .optional(),
      /**
       * The complete ARN of a Secrets Manager secret holding `{cert, key}` (PEM, optionally `ca`): the
       * client certificate the node presents when it forwards runs to, or pushes events to, a peer
       * behind mutual TLS. Off by default.
       */
      client_certificate_secret_arn: z.string().startsWith('arn:').optional(),
    })
    .default({}),
  /** What the node runs at once across its tenants (HLD §10.2); each tenant's own quotas apply too. */
  capacity: z
    .strictObject({
      /** Runs running at once on the node; more wait `queued` or are refused, per `mode`. */
      max_concurrent_runs: z.int().min(1).max(maxSlotPoolCapacity).default(1_000),
      /**
       * `queue`: a new run waits while the node is full (its `status_reason` says so); `reject`: it is
       * refused with 429 `rate_limited` (`node_concurrent_runs`).
       */
      mode: z.enum(['queue', 'reject']).default('queue'),
    })
    .default({ max_concurrent_runs: 1_000, mode: 'queue' }),
  /** Where a local node sends what it observes (HLD §9.1). */
  observability: z
    .strictObject({
      /**
       * A local node's OTLP/HTTP traces endpoint (e.g. `http://127.0.0.1:4318/v1/traces`); the
       * operator's `AGENTOS_OTLP_TRACES_URL` overrides it. Unset, no span is exported.
       */
      otlp_traces_url: z.url({ protocol: /^https?$/ }).optional(),
    })
    .default({}),
  /** The tenant `up` seeds, and its administrator. */
  seed: z
    .strictObject({
      tenant: z.string().min(1).default('default'),
      admin_principal: z.string().min(1).default('admin@default'),
    })
    .default({ tenant: 'default', admin_principal: 'admin@default' }),
});

/** A validated node configuration, defaults applied; `model_catalog` is an absolute path. */
export type NodeConfig = z.output<typeof NodeConfigSchema>;

/** The file read when `--config` is not given, if it exists in the working directory. */
export const defaultNodeConfigFile = 'agentos.config.json';

/** A node configuration that could not be read or is invalid; the message names the field. */
export class NodeConfigError extends Error {
  override readonly name = 'NodeConfigError';
}

/** Parses a configuration object, resolving the catalog path against `baseDir`. */
export function parseNodeConfig(value: unknown, source: string, baseDir: string): NodeConfig {
  const parsed = NodeConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new NodeConfigError(`${source} is invalid${where}: ${issue?.message ?? 'unknown issue'}`);
  }
  const config = parsed.data;
  return config.model_catalog === undefined
    ? config
    : { ...config, model_catalog: resolve(baseDir, config.model_catalog) };
}

/**
 * Reads the node configuration: `path` when given (it must exist), else {@link defaultNodeConfigFile}
 * in `cwd` when present, else the defaults.
 */
export async function loadNodeConfig(path: string | undefined, cwd = process.cwd()): Promise<NodeConfig> {
  const file = resolve(cwd, path ?? defaultNodeConfigFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (path === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') {
      return parseNodeConfig({}, 'the default node configuration', cwd);
    }
    throw new NodeConfigError(`cannot read the node configuration ${file}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new NodeConfigError(`${file} is not valid JSON`, { cause });
  }
  return parseNodeConfig(value, file, dirname(file));
}
