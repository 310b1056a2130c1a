import { defaultTenantScopes, scopes } from '../../../functions/shared/auth/auth-context.ts';
import { createTokenIssuer } from '../../../functions/shared/auth/token-issuer.ts';
import { configureEmulator } from '../../local/emulator.ts';
import { readActiveSigningKey } from '../../aws/node-signing-keys.ts';
import type { NodeEndpoints } from '../../reports/node-checks.ts';
import { runningHost, startHost } from './artifact-host-process.ts';
import type { RemoteContext } from './remote-context.ts';

/** The platform tenant whose operator-scoped tokens may administer other tenants' policies. */
export const operatorTenantId = 'operator';

/**
 * Whether this target runs Lambda functions itself. moto does not (it would need Docker): there the
 * deployed artifacts are served on this machine by the artifact host.
 */
export async function needsArtifactHost(context: RemoteContext): Promise<boolean> {
  if (context.target.kind !== 'endpoint') return false;
  // Also turns on moto's state-machine execution, which the run-deadline machine relies on.
  return (await configureEmulator(context.target.endpoint)) === 'configured';
}

/**
 * Where the deployed node answers: its API Gateway URLs, or the artifact host's when the target
 * cannot execute Lambda; `restart` serves freshly deployed code, otherwise a running host is reused.
 */
export async function nodeEndpoints(
  context: RemoteContext,
  outputs: Record<string, string>,
  options: { restart: boolean },
): Promise<NodeEndpoints> {
  if (await needsArtifactHost(context)) {
    const running = options.restart ? undefined : await runningHost(context);
    const host = running ?? (await startHost(context));
    context.report.notes.push(
      `The emulator cannot execute Lambda functions: the deployed artifacts (the Lambda bundles CloudFormation published, with the environments it resolved and the deployed API routes) are served on this machine by the artifact host (pid ${host.pid}, log ${host.log}).`,
      ...host.notes.map((note) => `Artifact host: ${note}`),
    );
    return host.endpoints;
  }
  const orchestrator = outputs['OrchestratorApiUrl'];
  const modelPolicy = outputs['ModelPolicyApiUrl'];
  if (orchestrator === undefined || modelPolicy === undefined)
    throw new Error(`the stack ${context.stackName} has no API URL outputs; is it deployed?`);
  return { orchestrator, modelPolicy };
}

/** Short-lived tokens the commands use: the seeded tenant admin's, and an operator's for the seed. */
export type NodeTokens = { tenant: string; operator: string; activeKid: string };

/**
 * Mints the commands' tokens with the node's own key, which the operator of a development stage may
 * read; the issuer is the node's (the stack's NodeIssuer output), so the node trusts them.
 */
export async function nodeTokens(
  context: RemoteContext,
  outputs: Record<string, string>,
): Promise<NodeTokens> {
  const issuer = outputs['NodeIssuer'];
  if (issuer === undefined) throw new Error(`the stack ${context.stackName} has no NodeIssuer output`);
  const jwk = await readActiveSigningKey(context.client, context.target.stage, outputs['ServiceSigningKid']);
  const tokens = createTokenIssuer({ jwk, issuer, audience: context.config.audience });
  const { tenant, admin_principal: admin } = context.config.seed;
  return {
    activeKid: jwk.kid,
    tenant: await tokens.issue({
      tenantId: tenant,
      subject: admin,
      scopes: [...defaultTenantScopes],
      ttlSeconds: 900,
    }),
    operator: await tokens.issue({
      tenantId: operatorTenantId,
      subject: 'operator@agentos-cli',
      scopes: [scopes.operator],
      ttlSeconds: 900,
    }),
  };
}
