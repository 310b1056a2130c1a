import { existsSync } from 'node:fs';
import { defaultTenantScopes, TenantIdSchema } from '../../functions/shared/auth/auth-context.ts';
import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import { localNodeDefaults } from '../local/local-defaults.ts';
import { nodePaths } from '../local/local-state.ts';
import { ensureNodeKeys } from '../local/node-keys.ts';

/** `agentos token --local`: prints a bearer token signed with the local node's key. */
export async function tokenLocal(options: {
  nodeId: string;
  tenant?: string;
  subject?: string;
  scopes?: string[];
  ttlSeconds: number;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const paths = nodePaths(options.nodeId);
  if (!existsSync(`${paths.keys}/signing-key.json`)) {
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
  const keys = await ensureNodeKeys(paths.keys);
  const issuer = createTokenIssuer({
    jwk: keys.signingKey,
    issuer: defaults.issuer,
    audience: defaults.audience,
  });
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
