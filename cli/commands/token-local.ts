import { printToken, requestedTenant } from './print-token.ts';
import { localNodeDefaults } from '../local/local-defaults.ts';
import { readLocalState } from '../local/local-state.ts';
import { localTokenIssuer } from '../local/local-tokens.ts';
import { localClientConfig } from '../local/local-target.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import type { LocalState } from '../local/local-state.ts';

/**
 * `agentos token --local`: prints a bearer token the local node accepts, signed with the key its
 * stack was deployed with (kept in the emulator's Secrets Manager) and carrying the stack's issuer.
 */
export async function tokenLocal(options: {
  nodeId: string;
  tenant?: string;
  subject?: string;
  scopes?: string[];
  ttlSeconds: number;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const state = await readLocalState(options.nodeId);
  if (state === undefined) {
    process.stderr.write(
      `No signing key for local node "${options.nodeId}": run \`agentos up --local\` first.\n`,
    );
    return 1;
  }
  const tenant = requestedTenant(options, localNodeDefaults(options.nodeId, 0).tenantId);
  if (tenant === 2) return 2;
  const code = await printToken(await localTokenIssuer(state), tenant, options, options.out);
  await warnUnlessRegistered(state, tenant);
  return code;
}

/**
 * The node refuses tokens of unregistered tenants (HLD §5.2): the token is printed anyway (the
 * tenant may be registered next), with a warning on stderr naming the command that registers it.
 */
async function warnUnlessRegistered(state: LocalState, tenant: string): Promise<void> {
  if (state.stack === undefined) return;
  const db = createDocumentClient(
    localClientConfig(state.node_id, state.stack.region, state.emulator.endpoint),
  );
  try {
    const registered = await new DynamoTenantDirectory(db, state.resources.table).getTenant(tenant);
    if (registered === undefined)
      process.stderr.write(
        `warning: tenant "${tenant}" is not registered on local node "${state.node_id}"; the node refuses this token until an operator runs \`agentos tenants create ${tenant}\`.\n`,
      );
    else if (registered.status === 'disabled')
      process.stderr.write(
        `warning: tenant "${tenant}" is disabled (${registered.disabled_reason ?? 'no reason given'}); the node refuses this token until it is enabled.\n`,
      );
  } catch (error) {
    process.stderr.write(
      `warning: could not check whether tenant "${tenant}" is registered: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  } finally {
    db.destroy();
  }
}
