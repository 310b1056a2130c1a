import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { awsErrorInfo, describeAwsError } from './preflight-aws-errors.ts';
import { failed, ok } from './preflight-check.ts';
import type { Verdict } from './preflight-check.ts';
import { awsCliCommand, maskIdentifiers } from './preflight-text.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

/**
 * The only secrets a stage's Model Policy may read: the stack grants `secretsmanager:GetSecretValue`
 * under this prefix alone (infra/stacks/agentos-node-stack.ts, `nodeSecretNames`; a unit test holds
 * the two equal, so the CLI need not load the CDK to know it).
 */
export function providerSecretPrefix(stage: string): string {
  return `agentos/${stage}/providers/`;
}

/** A secret preflight checks, and where the node's configuration names it. */
export type ProviderSecret = { secret: string; sources: string[] };

/** The provider secrets named by `provider_secrets` and by the catalog's references, each once. */
export function providerSecrets(
  listed: string[],
  referenced: { secret: string; field: string }[],
): ProviderSecret[] {
  const found = new Map<string, string[]>();
  const add = (secret: string, source: string) => found.set(secret, [...(found.get(secret) ?? []), source]);
  listed.forEach((secret) => add(secret, 'provider_secrets'));
  referenced.forEach(({ secret, field }) => add(secret, `catalog ${field}`));
  return [...found].map(([secret, sources]) => ({ secret, sources }));
}

const DescribedSchema = z.object({ Name: z.string().min(1), DeletedDate: z.date().optional() });

/** Where a secret outside the prefix belongs: the same last name, under the prefix. */
function movedName(secret: string, prefix: string): string {
  const base = secret.split('/').filter((part) => part !== '');
  return `${prefix}${base.at(-1) ?? 'provider'}`;
}

function outsidePrefix(target: RemoteTarget, name: string, prefix: string): Verdict {
  const moved = movedName(name, prefix);
  return failed(
    `${name} is outside ${prefix}, the only secrets the gateway may read`,
    `${awsCliCommand(target, 'secretsmanager', 'create-secret', '--name', moved, '--secret-string', 'file://secret.json')} ` +
      `(the credentials JSON in secret.json), then name ${moved} in provider_secrets and the catalog`,
  );
}

/**
 * Checks that a provider secret exists in the target's region, is not scheduled for deletion, and
 * lies under the stage's prefix. Only its metadata is read, never its value.
 */
export async function checkProviderSecret(
  target: RemoteTarget,
  secret: ProviderSecret,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Verdict> {
  const prefix = providerSecretPrefix(target.stage);
  const isArn = secret.secret.startsWith('arn:');
  if (!isArn && !secret.secret.startsWith(prefix)) return outsidePrefix(target, secret.secret, prefix);
  const client = new SecretsManagerClient(operatorClientConfig(target, env));
  let described: z.infer<typeof DescribedSchema>;
  try {
    described = DescribedSchema.parse(
      await client.send(new DescribeSecretCommand({ SecretId: secret.secret })),
    );
  } catch (error) {
    const info = awsErrorInfo(error);
    const detail = maskIdentifiers(describeAwsError(info));
    if (info.name === 'ResourceNotFoundException')
      return failed(
        `${secret.secret} does not exist in ${target.region}`,
        `${awsCliCommand(target, 'secretsmanager', 'create-secret', '--name', secret.secret, '--secret-string', 'file://secret.json')} (the credentials JSON in secret.json)`,
      );
    if (info.name === 'AccessDeniedException')
      return failed(
        `cannot describe ${secret.secret}: ${detail}`,
        `grant the operator secretsmanager:DescribeSecret on ${prefix}*`,
      );
    return failed(`cannot describe ${secret.secret}: ${detail}`);
  } finally {
    client.destroy();
  }
  if (isArn && !described.Name.startsWith(prefix)) return outsidePrefix(target, described.Name, prefix);
  if (described.DeletedDate !== undefined)
    return failed(
      `${described.Name} is scheduled for deletion`,
      awsCliCommand(target, 'secretsmanager', 'restore-secret', '--secret-id', described.Name),
    );
  return ok(`${described.Name} exists (named in ${secret.sources.join(', ')})`);
}
