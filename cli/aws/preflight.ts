import { join } from 'node:path';
import type { NodeConfig } from '../config/node-config.ts';
import { projectRoot } from '../local/project-paths.ts';
import { bedrockAccessChecker } from './preflight-bedrock.ts';
import { bootstrapQualifier, checkBootstrap } from './preflight-bootstrap.ts';
import { bedrockModels, catalogSecretReferences, readCatalog } from './preflight-catalog.ts';
import type { CatalogFindings } from './preflight-catalog.ts';
import { failed, skippedCheck, timedVerdict } from './preflight-check.ts';
import type { PreflightCheck, Verdict } from './preflight-check.ts';
import { checkIdentity, regionNameVerdict } from './preflight-identity.ts';
import type { IdentityFindings } from './preflight-identity.ts';
import { checkProviderSecret, providerSecrets } from './preflight-secrets.ts';
import { checkSesSender } from './preflight-ses.ts';
import { maskIdentifiers } from './preflight-text.ts';
import type { RemoteTarget } from './target.ts';

export type { PreflightCheck } from './preflight-check.ts';

/** The names of the preflight checks; per-item checks are `<name>: <item>`. */
export const preflightCheckNames = {
  credentials: 'credentials',
  region: 'region',
  bootstrap: 'cdk bootstrap',
  catalog: 'model catalog',
  bedrock: 'bedrock access',
  ses: 'ses sender',
  secrets: 'provider secrets',
} as const;

/** What preflight found: every check in a fixed order, the account when known, and whether all passed. */
export type PreflightResult = {
  /** No check failed (skipped ones do not count against it). */
  ok: boolean;
  /** The 12-digit account the credentials belong to; absent when they do not work. */
  account?: string;
  checks: PreflightCheck[];
};

export type PreflightOptions = {
  /** The environment SDK clients are configured from (emulator keys); `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** The CDK app's cdk.json, for the bootstrap qualifier; the repository's by default. */
  cdkJsonPath?: string;
};

/** The checks that need AWS, skipped together when there is nothing to check them with. */
function skippedAwsChecks(reason: string): PreflightCheck[] {
  const { bootstrap, bedrock, ses, secrets } = preflightCheckNames;
  return [bootstrap, bedrock, ses, secrets].map((name) => skippedCheck(name, reason));
}

async function identityChecks(
  target: RemoteTarget,
  env: NodeJS.ProcessEnv,
): Promise<{ checks: PreflightCheck[]; findings?: IdentityFindings }> {
  const { credentials, region } = preflightCheckNames;
  const started = Date.now();
  const named = regionNameVerdict(target);
  if (named.outcome === 'failed')
    // Asking STS in a region that does not exist only waits for a DNS failure: fix the name first.
    return {
      checks: [
        skippedCheck(credentials, 'the region is wrong; fix it first'),
        { name: region, duration_ms: Date.now() - started, ...named },
      ],
    };
  const findings = await checkIdentity(target, env);
  const duration_ms = Date.now() - started;
  return {
    findings,
    checks: [
      { name: credentials, duration_ms, ...findings.credentials },
      { name: region, duration_ms, ...findings.region },
    ],
  };
}

async function bedrockChecks(
  target: RemoteTarget,
  catalog: CatalogFindings,
  env: NodeJS.ProcessEnv,
): Promise<PreflightCheck[]> {
  const { bedrock } = preflightCheckNames;
  if (catalog.catalog === undefined || catalog.file === undefined)
    return [
      skippedCheck(
        bedrock,
        catalog.verdict.outcome === 'failed'
          ? 'the model catalog is invalid'
          : 'no model catalog: the node serves the local models only',
      ),
    ];
  const entries = bedrockModels(catalog.catalog);
  if (entries.length === 0) return [skippedCheck(bedrock, 'the catalog uses no Bedrock models')];
  const checker = bedrockAccessChecker(target, catalog.file, env);
  try {
    return await Promise.all(
      entries.map((entry) => timedVerdict(`${bedrock}: ${entry.ref}`, () => checker.check(entry))),
    );
  } finally {
    checker.close();
  }
}

function secretChecks(
  target: RemoteTarget,
  config: NodeConfig,
  catalog: CatalogFindings,
  env: NodeJS.ProcessEnv,
): Promise<PreflightCheck[]> {
  const { secrets } = preflightCheckNames;
  const wanted = providerSecrets(
    config.provider_secrets,
    catalog.catalog === undefined ? [] : catalogSecretReferences(catalog.catalog),
  );
  if (wanted.length === 0)
    return Promise.resolve([
      skippedCheck(secrets, 'none configured (provider_secrets is empty and the catalog reads no secrets)'),
    ]);
  return Promise.all(
    wanted.map((secret) =>
      timedVerdict(`${secrets}: ${secret.secret}`, () => checkProviderSecret(target, secret, env)),
    ),
  );
}

async function bootstrapVerdict(
  target: RemoteTarget,
  account: string,
  cdkJsonPath: string,
  env: NodeJS.ProcessEnv,
): Promise<Verdict> {
  let qualifier: string;
  try {
    qualifier = await bootstrapQualifier(cdkJsonPath);
  } catch (error) {
    return failed(
      `cannot read the bootstrap qualifier from ${cdkJsonPath}: ${(error as Error).message}`,
      `correct ${cdkJsonPath} (or run from the AgentOS repository)`,
    );
  }
  return checkBootstrap(target, account, qualifier, env);
}

/**
 * The AWS target's preflight (HLD §8.1, `up` phase 1): credentials, region, CDK bootstrap, the
 * model catalog and its Bedrock model access, the alert sender's SES identity and the provider
 * secrets. Every failure names its fix. Credentials come first: without them the checks that need
 * AWS are skipped, saying why; the rest run concurrently. Account ids in details are masked (the
 * result's `account` and the fix commands keep the real one); no secret value is ever read.
 */
export async function runPreflight(
  target: RemoteTarget,
  config: NodeConfig,
  options: PreflightOptions = {},
): Promise<PreflightResult> {
  const env = options.env ?? process.env;
  const cdkJsonPath = options.cdkJsonPath ?? join(projectRoot, 'cdk.json');
  const catalogStarted = Date.now();
  // The catalog is a local file: it is read (and reported) whatever AWS says.
  const catalogRead = readCatalog(config.model_catalog).then((found) => ({
    found,
    check: { name: preflightCheckNames.catalog, duration_ms: Date.now() - catalogStarted, ...found.verdict },
  }));
  const identity = await identityChecks(target, env);
  const catalog = await catalogRead;
  const account = identity.findings?.account;
  const blocked =
    identity.findings === undefined
      ? 'the region is wrong'
      : account === undefined
        ? 'no credentials'
        : identity.findings.region.outcome === 'failed'
          ? 'the region cannot be used'
          : undefined;
  let awsChecks: PreflightCheck[];
  if (blocked !== undefined || account === undefined)
    awsChecks = skippedAwsChecks(blocked ?? 'no credentials');
  else {
    const [bootstrap, bedrock, ses, secrets] = await Promise.all([
      timedVerdict(preflightCheckNames.bootstrap, () => bootstrapVerdict(target, account, cdkJsonPath, env)),
      bedrockChecks(target, catalog.found, env),
      timedVerdict(preflightCheckNames.ses, () => checkSesSender(target, config, env)),
      secretChecks(target, config, catalog.found, env),
    ]);
    awsChecks = [bootstrap, ...bedrock, ses, ...secrets];
  }
  const checks = [...identity.checks, catalog.check, ...awsChecks].map((check) => ({
    ...check,
    detail: maskIdentifiers(check.detail),
  }));
  return {
    ok: checks.every((check) => check.outcome !== 'failed'),
    ...(account === undefined ? {} : { account }),
    checks,
  };
}
