import { defaultTenantScopes, TenantIdSchema } from '../../functions/shared/auth/auth-context.ts';
import { localNodeDefaults } from '../local/local-defaults.ts';
import { readLocalState } from '../local/local-state.ts';
import { localTokenIssuer } from '../local/local-tokens.ts';

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
  const defaults = localNodeDefaults(options.nodeId, 0);
  const tenant = options.tenant ?? defaults.tenantId;
  if (!TenantIdSchema.safeParse(tenant).success) {
    process.stderr.write(`Invalid tenant id "${tenant}": use 1-63 characters of a-z, 0-9, "_" and "-".\n`);
    return 2;
  }
  const issuer = await localTokenIssuer(state);
  const token = await issuer.issue({
    tenantId: tenant,
    subject: options.subject ?? `admin@${tenant}`,
    scopes:
      options.scopes !== undefined && options.scopes.length > 0 ? options.scopes : [...defaultTenantScopes],
    ttlSeconds: options.ttlSeconds,
  });
  (options.out ?? process.stdout).write(`${token}\n`);
  return 0;
}
