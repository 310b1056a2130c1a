import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateEmailIdentityCommand,
  GetEmailIdentityCommand,
  NotFoundException,
  SESv2Client,
} from '@aws-sdk/client-sesv2';
import { z } from 'zod';
import { contextKeys } from '../../../infra/config/node-settings.ts';
import { bundlesDirContextKey } from '../../../infra/node-app.ts';
import { functionDefinitions } from '../../../infra/resources/definitions.ts';
import type { FunctionName } from '../../../infra/resources/definitions.ts';
import { contextArgs, runCdk, tail } from '../../aws/cdk-cli.ts';
import type { RemoteNodeKeys } from '../../aws/node-signing-keys.ts';
import { NodeConfigError } from '../../config/node-config.ts';
import { cdkEnvironment } from '../../aws/target.ts';
import type { RemoteContext } from './remote-context.ts';

/**
 * The alert sender's SES identity, created when missing. It belongs to the account, not to one
 * stage, so it lives outside the stack: two stages sending from one address would collide there.
 */
export async function ensureSesSender(context: RemoteContext): Promise<string> {
  const sender = context.config.alerts.sender;
  // Mail through a relay needs no SES identity: none is created, and SES sends no verification.
  if (context.config.alerts.smtp !== undefined)
    return `${sender}: mailed through the SMTP relay ${context.config.alerts.smtp.host}; no SES identity needed`;
  const ses = new SESv2Client(context.client);
  try {
    const existing = await ses
      .send(new GetEmailIdentityCommand({ EmailIdentity: sender }))
      .catch((error: unknown) => {
        if (error instanceof NotFoundException) return undefined;
        throw error;
      });
    if (existing !== undefined) return `${sender}: ${existing.VerificationStatus ?? 'status unknown'}`;
    await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: sender }));
    return `${sender}: created; confirm the verification e-mail SES sent to it`;
  } finally {
    ses.destroy();
  }
}

/** The CDK context that configures the stack from the node configuration and the node's keys. */
export function stackContext(context: RemoteContext, keys: RemoteNodeKeys): Record<string, string> {
  const { config } = context;
  if (context.target.kind === 'aws' && config.tools.allowed_hosts.length > 0) {
    // An allowed private destination is open to every tenant's tools: only for a node on this machine.
    throw new NodeConfigError(
      'tools.allowed_hosts opens private destinations to every tenant’s tools; it is for local and emulator ' +
        'nodes (--local, --endpoint) only: remove it from the configuration of an AWS stage',
    );
  }
  return {
    [bundlesDirContextKey]: context.paths.bundles,
    [contextKeys.nodeId]: context.target.stage,
    [contextKeys.audience]: config.audience,
    [contextKeys.serviceSigningKeySecretArn]: keys.secretArn,
    [contextKeys.nodeJwks]: JSON.stringify(keys.jwks),
    [contextKeys.destroyOnRemoval]: String(config.retention.destroy_data_with_stack),
    [contextKeys.logRetention]: String(config.retention.log_days),
    [contextKeys.nodeMaxConcurrentRuns]: String(config.capacity.max_concurrent_runs),
    [contextKeys.nodeCapacityMode]: config.capacity.mode,
    ...(config.identity_provider === undefined
      ? {}
      : {
          [contextKeys.identityProviderIssuer]: config.identity_provider.issuer,
          [contextKeys.identityProviderJwksUrl]: config.identity_provider.jwks_url,
        }),
    ...(config.model_catalog === undefined ? {} : { [contextKeys.modelCatalogFile]: config.model_catalog }),
    ...(config.tools.allowed_hosts.length === 0
      ? {}
      : { [contextKeys.toolAllowedHosts]: config.tools.allowed_hosts.join(',') }),
    ...(config.cors.allowed_origins.length === 0
      ? {}
      : {
          [contextKeys.corsAllowedOrigins]: config.cors.allowed_origins.join(','),
          [contextKeys.corsAllowCredentials]: String(config.cors.allow_credentials),
        }),
    // Mutual TLS between peers (HLD §7.1): the stack validates the three values together.
    ...(config.federation.mtls === undefined
      ? {}
      : {
          [contextKeys.federationMtlsDomainName]: config.federation.mtls.domain_name,
          [contextKeys.federationMtlsCertificateArn]: config.federation.mtls.certificate_arn,
          [contextKeys.federationMtlsTruststoreUri]: config.federation.mtls.truststore_uri,
          ...(config.federation.mtls.truststore_version === undefined
            ? {}
            : { [contextKeys.federationMtlsTruststoreVersion]: config.federation.mtls.truststore_version }),
        }),
    // The client certificate the node presents to peers behind mutual TLS (HLD §7.1).
    ...(config.federation.client_certificate_secret_arn === undefined
      ? {}
      : { [contextKeys.federationClientCertSecretArn]: config.federation.client_certificate_secret_arn }),
    // The stage's alarm thresholds (HLD §9.3): the stack builds its CloudWatch alarms from them.
    ...(Object.keys(config.alerts.thresholds).length === 0
      ? {}
      : { [contextKeys.alarmThresholds]: JSON.stringify(config.alerts.thresholds) }),
    // Where the alert notifier mails the alarms, and how (HLD §9.3).
    [contextKeys.alertSender]: config.alerts.sender,
    [contextKeys.alertWindowMinutes]: String(config.alerts.window_minutes),
    ...(config.alerts.recipients.length === 0
      ? {}
      : { [contextKeys.alertRecipients]: config.alerts.recipients.join(',') }),
    ...(config.alerts.smtp === undefined
      ? {}
      : {
          [contextKeys.alertSmtpHost]: config.alerts.smtp.host,
          [contextKeys.alertSmtpPort]: String(config.alerts.smtp.port),
          ...(config.alerts.smtp.secure === undefined
            ? {}
            : { [contextKeys.alertSmtpSecure]: String(config.alerts.smtp.secure) }),
          ...(config.alerts.smtp.credentials_secret === undefined
            ? {}
            : { [contextKeys.alertSmtpSecretArn]: config.alerts.smtp.credentials_secret }),
        }),
  };
}

const OutputsFileSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** The stack outputs `cdk deploy --outputs-file` wrote. */
async function readOutputs(context: RemoteContext): Promise<Record<string, string>> {
  const parsed = OutputsFileSchema.safeParse(JSON.parse(await readFile(context.paths.outputs, 'utf8')));
  const outputs = parsed.success ? parsed.data[context.stackName] : undefined;
  if (outputs === undefined) throw new Error(`cdk deploy wrote no outputs for ${context.stackName}`);
  return outputs;
}

/** What one deploy did. */
export type DeployResult = { outputs: Record<string, string>; bundleBytes: Record<FunctionName, number> };

async function bundleSizes(bundlesDir: string): Promise<Record<FunctionName, number>> {
  const sizes = {} as Record<FunctionName, number>;
  for (const name of Object.keys(functionDefinitions) as FunctionName[]) {
    const dir = join(bundlesDir, name);
    let total = 0;
    for (const file of await readdir(dir)) {
      if (file.endsWith('.map') || file.startsWith('meta')) continue;
      total += (await stat(join(dir, file))).size;
    }
    sizes[name] = total;
  }
  return sizes;
}

/**
 * Runs one CDK CLI command on the node stack with the stage's context and target environment; its
 * whole output goes to the stage's cdk.log, and a failure names the command and that log.
 */
async function cdkOnStack(
  context: RemoteContext,
  keys: RemoteNodeKeys,
  command: 'deploy' | 'diff',
  options: string[],
): Promise<string> {
  const result = await runCdk(
    [
      command,
      context.stackName,
      ...options,
      '--no-notices',
      '--no-version-reporting',
      '--output',
      context.paths.cdkOut,
      ...contextArgs(stackContext(context, keys)),
    ],
    { env: cdkEnvironment(context.target, context.env), logFile: context.paths.cdkLog },
  );
  // Non-zero is an error: `cdk diff` exits 1 for "there are differences" only with --fail.
  if (result.code !== 0)
    throw new Error(
      `cdk ${command} failed (exit ${String(result.code)}; full output in ${context.paths.cdkLog}):\n${tail(result.output)}`,
    );
  return result.output;
}

/**
 * `cdk deploy` of the node stack with the project's CLI: bundles are built by the app itself (no
 * Docker), outputs captured, the CLI's whole output appended to the stage's cdk.log.
 */
export async function cdkDeploy(context: RemoteContext, keys: RemoteNodeKeys): Promise<DeployResult> {
  await cdkOnStack(context, keys, 'deploy', [
    '--require-approval',
    'never',
    '--progress',
    'events',
    '--outputs-file',
    context.paths.outputs,
  ]);
  return { outputs: await readOutputs(context), bundleBytes: await bundleSizes(context.paths.bundles) };
}

/** `cdk diff` of the deployed stack against what would be deployed now; the CLI's text. */
export function cdkDiff(context: RemoteContext, keys: RemoteNodeKeys): Promise<string> {
  // Against the deployed template: a change set would hide code (asset) changes.
  return cdkOnStack(context, keys, 'diff', ['--method', 'template']);
}
