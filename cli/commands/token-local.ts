import { printToken, requestedTenant } from './print-token.ts';
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
  const tenant = requestedTenant(options, localNodeDefaults(options.nodeId, 0).tenantId);
  if (tenant === 2) return 2;
  return printToken(await localTokenIssuer(state), tenant, options, options.out);
}
