import { printToken, requestedTenant } from '../print-token.ts';
import { createTokenIssuer } from '../../../functions/shared/auth/token-issuer.ts';
import { defaultMaxTokenLifetimeSeconds } from '../../../functions/shared/auth/jwt-verifier.ts';
import { changeNodeSigningKeys, readActiveSigningKey } from '../../aws/node-signing-keys.ts';
import { deployedOutputs } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/**
 * `agentos token` for a deployed stage: a token signed with the node's key, for an operator who may
 * read it (development stages); anyone else is told to get one from the identity provider.
 */
export async function tokenRemote(
  options: RemoteOptions & { tenant?: string; subject?: string; scopes?: string[]; ttlSeconds: number },
): Promise<number> {
  const context = await newRemoteContext('token', options);
  const tenant = requestedTenant(options, context.config.seed.tenant);
  if (tenant === 2) return 2;
  const outputs = await deployedOutputs(context);
  const issuer = outputs['NodeIssuer'];
  if (issuer === undefined)
    throw new Error(`the stack ${context.stackName} has no NodeIssuer output; redeploy it`);
  const jwk = await readActiveSigningKey(context.client, context.target.stage, outputs['ServiceSigningKid']);
  return printToken(
    createTokenIssuer({ jwk, issuer, audience: context.config.audience }),
    tenant,
    options,
    options.out,
  );
}

/**
 * `agentos keys rotate|retire`: a new active signing key with the previous one kept published, or
 * only the active key kept. Either takes effect at the next `agentos redeploy`, which publishes the
 * keys and pins the worker to the active one.
 */
export async function keysRemote(
  options: RemoteOptions & { change: 'rotate' | 'retire'; force: boolean },
): Promise<number> {
  const context = await newRemoteContext('keys', options);
  const outputs = await deployedOutputs(context);
  const keys = await changeNodeSigningKeys(context.client, context.target.stage, options.change, {
    deployedKid: outputs['ServiceSigningKid'],
    maxTokenLifetimeSeconds: defaultMaxTokenLifetimeSeconds,
    force: options.force,
  });
  context.out.write(
    `stage "${context.target.stage}": signing keys now ${keys.kids.join(', ')} (first = active).\n` +
      'Run `agentos redeploy` to publish them; until then the node keeps signing with the key it deployed.\n',
  );
  return 0;
}
