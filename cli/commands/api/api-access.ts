import { defaultTenantScopes, scopes } from '../../../functions/shared/auth/auth-context.ts';
import { AgentOsClient } from '../../client/agentos-client.ts';
import type { Target } from '../../aws/target.ts';
import type { NodeConfig } from '../../config/node-config.ts';
import { localNodeDefaults } from '../../local/local-defaults.ts';
import { readLocalState } from '../../local/local-state.ts';
import { localTokenIssuer } from '../../local/local-tokens.ts';
import { nodeEndpoints, nodeTokens } from '../remote/node-access.ts';
import { deployedOutputs } from '../remote/remote-phases.ts';
import { newRemoteContext } from '../remote/remote-context.ts';

/**
 * How an API command authenticates: a given token, or one minted with the node's key for a tenant
 * member (the default), the tenant's admin (`tenant-admin`: every tenant scope and `tenant:admin`),
 * or an operator of the operator tenant (`operator`).
 */
export type ApiCredentials = {
  token?: string;
  tenant?: string;
  role?: 'member' | 'tenant-admin' | 'operator';
};

/** What a minted tenant admin holds: every scope but `operator`, so it may grant any of them. */
export const tenantAdminScopes: string[] = Object.values(scopes).filter((scope) => scope !== scopes.operator);

/** Lifetime of the tokens API commands mint for themselves. */
const commandTokenSeconds = 900;

/**
 * The Orchestrator API of a target and a bearer token for it. A local node is found through its
 * state; a deployed one through its stack's outputs (on an emulator that cannot run functions, the
 * artifact host serving them). The token is `--token` (or `AGENTOS_TOKEN`) when given, else one the
 * command mints for the tenant (default: the seeded one) with the node's signing key, which only
 * an operator of a local node or a development stage can read.
 */
export async function orchestratorClient(
  target: Target,
  config: NodeConfig,
  credentials: ApiCredentials,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentOsClient> {
  const fromEnv = env['AGENTOS_TOKEN'];
  const given = credentials.token ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
  if (target.kind === 'local') {
    const state = await readLocalState(target.nodeId);
    if (state === undefined)
      throw new Error(`no local node "${target.nodeId}" on this machine: run \`agentos up --local\` first`);
    const defaults = localNodeDefaults(target.nodeId, 0);
    const tenantId = credentials.tenant ?? defaults.tenantId;
    const claims =
      credentials.role === 'operator'
        ? { tenantId: defaults.operatorTenantId, subject: 'operator@local', scopes: [scopes.operator] }
        : {
            tenantId,
            subject: `admin@${tenantId}`,
            scopes: credentials.role === 'tenant-admin' ? tenantAdminScopes : [...defaultTenantScopes],
          };
    const token =
      given ?? (await (await localTokenIssuer(state)).issue({ ...claims, ttlSeconds: commandTokenSeconds }));
    return new AgentOsClient(state.node.orchestrator_url, token);
  }
  const context = await newRemoteContext('api', { target, config, out: process.stderr, env });
  const outputs = await deployedOutputs(context);
  const { orchestrator } = await nodeEndpoints(context, outputs, { restart: false });
  if (given !== undefined) return new AgentOsClient(orchestrator, given);
  if (credentials.role === 'tenant-admin')
    throw new Error("a deployed node's tenant admin commands need a tenant admin's token: pass --token");
  if (credentials.role === 'operator')
    return new AgentOsClient(orchestrator, (await nodeTokens(context, outputs)).operator);
  if (credentials.tenant !== undefined && credentials.tenant !== config.seed.tenant)
    throw new Error(
      `a deployed node's commands mint tokens for its seeded tenant "${config.seed.tenant}" only: pass --token for another`,
    );
  return new AgentOsClient(orchestrator, (await nodeTokens(context, outputs)).tenant);
}
