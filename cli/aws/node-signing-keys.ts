import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { JSONWebKeySet } from 'jose';
import {
  generateSigningKey,
  parseSigningKeySet,
  publicJwks,
  retireOldKeys,
  rotateKeySet,
} from '../../functions/shared/auth/signing-keys.ts';
import type { SigningKeySet } from '../../functions/shared/auth/signing-keys.ts';
import type { SigningJwk } from '../../functions/shared/auth/token-issuer.ts';
import { nodeSecretNames } from '../../infra/stacks/agentos-node-stack.ts';
import type { OperatorClientConfig } from './target.ts';

/** A deployed node's signing keys as the stack needs them: the secret's ARN and the public set. */
export type RemoteNodeKeys = { secretArn: string; jwks: JSONWebKeySet; created: boolean; kids: string[] };

async function readSet(sm: SecretsManagerClient, secretId: string): Promise<SigningKeySet> {
  const value = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (value.SecretString === undefined) throw new Error(`The secret ${secretId} has no string value`);
  return parseSigningKeySet(value.SecretString, `The secret ${secretId}`);
}

function keysOf(secretArn: string, set: SigningKeySet, created: boolean): RemoteNodeKeys {
  return { secretArn, jwks: publicJwks(set), created, kids: set.keys.map((key) => key.kid) };
}

/**
 * Reads a stage's signing keys, generating an ES256 key into a new secret on first use. The secret
 * lives outside the stack, so a `nuke` keeps it (unless `--delete-data`) and a later `up` keeps
 * verifying tokens issued before.
 */
export async function ensureNodeSigningKeys(
  client: OperatorClientConfig,
  stage: string,
): Promise<RemoteNodeKeys> {
  const sm = new SecretsManagerClient(client);
  const name = nodeSecretNames(stage).serviceSigningKey;
  try {
    try {
      const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
      if (described.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
      if (described.DeletedDate !== undefined)
        throw new Error(
          `The signing key secret ${name} is scheduled for deletion: restore it (aws secretsmanager restore-secret --secret-id ${name}) or wait until it is gone`,
        );
      return keysOf(described.ARN, await readSet(sm, described.ARN), false);
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    const set: SigningKeySet = { keys: [await generateSigningKey(stage)] };
    const created = await sm
      .send(
        new CreateSecretCommand({
          Name: name,
          Description: `AgentOS node "${stage}": the private keys its service tokens are signed with (first = active)`,
          SecretString: JSON.stringify(set),
          Tags: [{ Key: 'agentos:stage', Value: stage }],
        }),
      )
      .catch(async (error: unknown) => {
        // Another `up` of this stage created it meanwhile: use theirs.
        if ((error as { name?: unknown }).name !== 'ResourceExistsException') throw error;
        return undefined;
      });
    if (created === undefined) {
      const existing = await sm.send(new DescribeSecretCommand({ SecretId: name }));
      if (existing.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
      return keysOf(existing.ARN, await readSet(sm, existing.ARN), false);
    }
    if (created.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
    return keysOf(created.ARN, set, true);
  } finally {
    sm.destroy();
  }
}

/** What a key change must know of the running deployment. */
export type KeyChangeGuard = {
  /** The key the deployed stack signs with (its `ServiceSigningKid` output). */
  deployedKid: string | undefined;
  /** The longest lifetime of a token the node accepts: how long a retired key's tokens may live. */
  maxTokenLifetimeSeconds: number;
  /** Retire even when tokens of the older keys may still be alive. */
  force: boolean;
  now?: Date;
};

/**
 * Rotates a stage's signing key: a new key becomes active and the previous one stays published, so
 * tokens it signed keep verifying; `retire` then drops every key but the active one. Either takes
 * effect for the node at its next deploy (`agentos redeploy`), which publishes the new JWKS. Both
 * refuse a change that would drop the key the running deployment signs with: a rotation already
 * pending a deploy, or a retirement before the rotated key is deployed; a retirement also waits out
 * the lifetime of tokens the older keys signed, unless forced.
 */
export async function changeNodeSigningKeys(
  client: OperatorClientConfig,
  stage: string,
  change: 'rotate' | 'retire',
  guard: KeyChangeGuard,
): Promise<RemoteNodeKeys> {
  const sm = new SecretsManagerClient(client);
  const name = nodeSecretNames(stage).serviceSigningKey;
  try {
    const described = await sm.send(new DescribeSecretCommand({ SecretId: name })).catch((error: unknown) => {
      if (error instanceof ResourceNotFoundException)
        throw new Error(`stage "${stage}" has no signing keys (${name}): run \`agentos up\` first`, {
          cause: error,
        });
      throw error;
    });
    if (described.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
    const current = await readSet(sm, described.ARN);
    const active = current.keys[0]!.kid;
    if (guard.deployedKid !== undefined && active !== guard.deployedKid) {
      throw new Error(
        `the active key ${active} is not deployed yet (the node signs with ${guard.deployedKid}): run \`agentos redeploy\` first`,
      );
    }
    if (change === 'retire' && current.keys.length > 1 && !guard.force) {
      const changed = described.LastChangedDate ?? described.CreatedDate;
      const ageSeconds =
        changed === undefined ? 0 : ((guard.now ?? new Date()).getTime() - changed.getTime()) / 1000;
      if (ageSeconds < guard.maxTokenLifetimeSeconds) {
        throw new Error(
          `the keys changed ${Math.floor(ageSeconds / 60)} min ago; tokens the older keys signed may live ` +
            `${guard.maxTokenLifetimeSeconds / 3600} h: retire after that, or pass --force`,
        );
      }
    }
    const next =
      change === 'rotate' ? rotateKeySet(current, await generateSigningKey(stage)) : retireOldKeys(current);
    await sm.send(new PutSecretValueCommand({ SecretId: described.ARN, SecretString: JSON.stringify(next) }));
    return keysOf(described.ARN, next, false);
  } finally {
    sm.destroy();
  }
}

/**
 * The private key a stage's deployment signs with (`deployedKid`; the newest key without it), for
 * an operator who may read it (development stages: `up`'s checks and `agentos token`). Throws a message saying what to do when the key cannot be read.
 */
export async function readActiveSigningKey(
  client: OperatorClientConfig,
  stage: string,
  deployedKid?: string,
): Promise<SigningJwk> {
  const sm = new SecretsManagerClient(client);
  const name = nodeSecretNames(stage).serviceSigningKey;
  try {
    const set = await readSet(sm, name);
    if (deployedKid === undefined) return set.keys[0]!;
    // A key rotated into the secret signs nothing until a deploy publishes it.
    const key = set.keys.find((candidate) => candidate.kid === deployedKid);
    if (key === undefined)
      throw new Error(`${name} no longer holds the deployed key ${deployedKid}: run \`agentos redeploy\``);
    return key;
  } catch (error) {
    const code = (error as { name?: unknown }).name;
    if (code === 'AccessDeniedException')
      throw new Error(
        `your credentials may not read ${name}: only operators of development stages hold the node key; ` +
          'get a token from the identity provider the node trusts instead',
        { cause: error },
      );
    if (error instanceof ResourceNotFoundException)
      throw new Error(`stage "${stage}" has no signing key (${name}): run \`agentos up\` first`, {
        cause: error,
      });
    throw error;
  } finally {
    sm.destroy();
  }
}
