import { createTokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import type { TokenIssuer } from '../../functions/shared/auth/token-issuer.ts';
import { readActiveSigningKey } from '../aws/node-signing-keys.ts';
import type { LocalState } from './local-state.ts';
import { localClientConfig, localNodeConfig } from './local-target.ts';

const unreachable = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * Issues tokens a local node accepts: signed with the key its stack was deployed with (read from
 * the emulator's Secrets Manager, where `up` created it), carrying the stack's issuer.
 */
export async function localTokenIssuer(state: LocalState): Promise<TokenIssuer> {
  if (state.stack === undefined)
    throw new Error(
      `local node "${state.node_id}" was started by an older agentos: run \`agentos up --local\` again`,
    );
  const jwk = await readActiveSigningKey(
    localClientConfig(state.node_id, state.stack.region, state.emulator.endpoint),
    state.node_id,
    state.stack.signing_kid,
  ).catch((error: unknown) => {
    // An emulator that is down is a node that cannot be reached (cli/commands/cli-errors.ts: exit 3).
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && unreachable.has(code))
      throw new TypeError(`cannot reach the emulator at ${state.emulator.endpoint}`, { cause: error });
    throw error;
  });
  return createTokenIssuer({ jwk, issuer: state.stack.node_issuer, audience: localNodeConfig().audience });
}
