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
    const created = await sm.send(
      new CreateSecretCommand({
        Name: name,
        Description: `AgentOS node "${stage}": the private keys its service tokens are signed with (first = active)`,
        SecretString: JSON.stringify(set),
        Tags: [{ Key: 'agentos:stage', Value: stage }],
      }),
    );
    if (created.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
    return keysOf(created.ARN, set, true);
  } finally {
    sm.destroy();
  }
}

/**
 * Rotates a stage's signing key: a new key becomes active and the previous one stays published, so
 * tokens it signed keep verifying; `retire` then drops every key but the active one. Either takes
 * effect for the node at its next deploy (`agentos redeploy`), which publishes the new JWKS.
 */
export async function changeNodeSigningKeys(
  client: OperatorClientConfig,
  stage: string,
  change: 'rotate' | 'retire',
): Promise<RemoteNodeKeys> {
  const sm = new SecretsManagerClient(client);
  const name = nodeSecretNames(stage).serviceSigningKey;
  try {
    const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    if (described.ARN === undefined) throw new Error(`Secrets Manager returned no ARN for ${name}`);
    const current = await readSet(sm, described.ARN);
    const next =
      change === 'rotate' ? rotateKeySet(current, await generateSigningKey(stage)) : retireOldKeys(current);
    await sm.send(new PutSecretValueCommand({ SecretId: described.ARN, SecretString: JSON.stringify(next) }));
    return keysOf(described.ARN, next, false);
  } finally {
    sm.destroy();
  }
}

/**
 * The private key a stage's deployment signs with (`deployedKid`; the newest key without it), for an operator who may read it (development stages: `up`'s
 * checks and `agentos token`). Throws a message saying what to do when the key cannot be read.
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
