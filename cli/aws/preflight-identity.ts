import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { awsErrorInfo, describeAwsError, isUnreachable } from './preflight-aws-errors.ts';
import type { AwsErrorInfo } from './preflight-aws-errors.ts';
import { failed, ok } from './preflight-check.ts';
import type { Verdict } from './preflight-check.ts';
import { maskAccount, maskIdentifiers } from './preflight-text.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

/**
 * The AWS partitions' region patterns and the region each partition's global endpoints live in, as
 * the AWS SDK's partition metadata states them (@aws-sdk/core 3.981.2, `partitions.json`:
 * `regionRegex` and `implicitGlobalRegion`). The SDK does not export the table, and its `partition()`
 * falls back to `aws` for any name, so it cannot tell a wrong region from a new one.
 */
const partitions = [
  { id: 'aws', pattern: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/, globalRegion: 'us-east-1' },
  { id: 'aws-cn', pattern: /^cn-\w+-\d+$/, globalRegion: 'cn-northwest-1' },
  { id: 'aws-eusc', pattern: /^eusc-(de)-\w+-\d+$/, globalRegion: 'eusc-de-east-1' },
  { id: 'aws-iso', pattern: /^us-iso-\w+-\d+$/, globalRegion: 'us-iso-east-1' },
  { id: 'aws-iso-b', pattern: /^us-isob-\w+-\d+$/, globalRegion: 'us-isob-east-1' },
  { id: 'aws-iso-e', pattern: /^eu-isoe-\w+-\d+$/, globalRegion: 'eu-isoe-west-1' },
  { id: 'aws-iso-f', pattern: /^us-isof-\w+-\d+$/, globalRegion: 'us-isof-south-1' },
  { id: 'aws-us-gov', pattern: /^us-gov-\w+-\d+$/, globalRegion: 'us-gov-west-1' },
] as const;

/** The partition a region name belongs to, or undefined when it is no AWS region's name. */
export function regionPartition(region: string): { id: string; globalRegion: string } | undefined {
  return partitions.find((partition) => partition.pattern.test(region));
}

/** The fix for a region that is wrong: pick a real one, where the target takes it from. */
export function regionFix(target: RemoteTarget): string {
  return `pass --region with an AWS region such as us-east-1 or eu-west-1, or set "region" in the node configuration (${target.kind === 'endpoint' ? 'the emulator serves any real region' : 'see `aws account list-regions`'})`;
}

/** The region's name alone: is it a region of some AWS partition? */
export function regionNameVerdict(target: RemoteTarget): Verdict {
  const partition = regionPartition(target.region);
  return partition === undefined
    ? failed(
        `"${target.region}" is not an AWS region (it matches no AWS partition's region names)`,
        regionFix(target),
      )
    : ok(`${target.region} (partition ${partition.id})`);
}

/** GetCallerIdentity's answer, of which only the account and the principal's ARN are used. */
const CallerIdentitySchema = z.object({ Account: z.string().regex(/^\d{12}$/), Arn: z.string().min(1) });

/** What the credentials and region checks found: both verdicts, and the account when known. */
export type IdentityFindings = { credentials: Verdict; region: Verdict; account?: string };

async function callerIdentity(
  target: RemoteTarget,
  env: NodeJS.ProcessEnv,
  region: string,
): Promise<{ account: string; arn: string }> {
  const sts = new STSClient({ ...operatorClientConfig(target, env), region });
  try {
    const answer = CallerIdentitySchema.parse(await sts.send(new GetCallerIdentityCommand({})));
    return { account: answer.Account, arn: answer.Arn };
  } finally {
    sts.destroy();
  }
}

const invalidKeyErrors = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'AuthFailure',
]);

function profileFlag(target: RemoteTarget): string {
  return target.kind === 'aws' && target.profile !== undefined ? ` --profile ${target.profile}` : '';
}

/** The credentials verdict for a failed GetCallerIdentity, naming how to get working credentials. */
export function credentialsFailure(target: RemoteTarget, info: AwsErrorInfo): Verdict {
  const profile = profileFlag(target);
  const detail = maskIdentifiers(describeAwsError(info));
  if (target.kind === 'endpoint' && isUnreachable(info))
    return failed(
      `the emulator at ${target.endpoint} does not answer: ${detail}`,
      `start the emulator (or pass the --endpoint it listens on)`,
    );
  if (isUnreachable(info))
    return failed(
      `STS in ${target.region} cannot be reached: ${detail}`,
      'check the network connection (and HTTPS_PROXY when a proxy is needed), then retry',
    );
  const sso = /\bSSO\b/i.test(info.message);
  if (info.name === 'CredentialsProviderError' || info.name === 'TokenProviderError' || sso) {
    if (sso)
      return failed(
        `the SSO session of${profile === '' ? ' the default profile' : profile} is missing or expired: ${detail}`,
        `aws sso login${profile}`,
      );
    return failed(
      profile === ''
        ? `no AWS credentials found (environment, ~/.aws/credentials, ~/.aws/config, instance role): ${detail}`
        : `profile "${target.kind === 'aws' ? target.profile : ''}" has no usable credentials: ${detail}`,
      profile === ''
        ? '`aws configure` (access keys) or `aws configure sso` (IAM Identity Center), or pass --profile NAME'
        : `\`aws configure${profile}\` (access keys) or \`aws configure sso${profile}\` (IAM Identity Center)`,
    );
  }
  if (/^ExpiredToken(Exception)?$/.test(info.name) || /token .*expired/i.test(info.message))
    return failed(
      `the session credentials have expired: ${detail}`,
      profile === ''
        ? 'renew the temporary credentials (AWS_SESSION_TOKEN), or `aws sso login` for an SSO profile'
        : `aws sso login${profile} (or renew the profile's temporary credentials)`,
    );
  if (info.name === 'RequestExpired' || /signature expired/i.test(info.message))
    return failed(
      `AWS refused the request's time stamp: ${detail}`,
      'set the system clock right (enable NTP time sync), then retry',
    );
  if (invalidKeyErrors.has(info.name))
    return failed(
      `the access key is not valid (mistyped, deactivated or deleted): ${detail}`,
      `\`aws configure${profile}\` with a valid access key pair`,
    );
  return failed(`GetCallerIdentity failed: ${detail}`);
}

/**
 * Checks the credentials with STS GetCallerIdentity in the target's region, which also shows the
 * region is usable. When the regional call is refused as if the key were invalid, the same call in
 * the partition's global region tells a disabled opt-in region (the key works there) from a bad key.
 * Assumes the region's name passed {@link regionNameVerdict}.
 */
export async function checkIdentity(
  target: RemoteTarget,
  env: NodeJS.ProcessEnv = process.env,
): Promise<IdentityFindings> {
  try {
    const { account, arn } = await callerIdentity(target, env, target.region);
    return {
      account,
      credentials: ok(`account ${maskAccount(account)} as ${maskIdentifiers(arn)}`),
      region: ok(`${target.region}: STS answered there`),
    };
  } catch (error) {
    const info = awsErrorInfo(error);
    const unusableRegion = info.name === 'RegionDisabledException' || invalidKeyErrors.has(info.name);
    const globalRegion = regionPartition(target.region)?.globalRegion;
    if (
      target.kind === 'aws' &&
      unusableRegion &&
      globalRegion !== undefined &&
      globalRegion !== target.region
    ) {
      const elsewhere = await callerIdentity(target, env, globalRegion).then(
        (found) => found,
        // The key fails in the global region too: it is the key, reported below.
        (globalError: unknown) => ({ error: awsErrorInfo(globalError) }),
      );
      if (!('error' in elsewhere))
        return {
          account: elsewhere.account,
          credentials: ok(`account ${maskAccount(elsewhere.account)} (checked in ${globalRegion})`),
          region:
            info.name === 'RegionDisabledException'
              ? failed(
                  `STS is deactivated in ${target.region} for this account: ${maskIdentifiers(describeAwsError(info))}`,
                  `activate STS in ${target.region}: IAM console → Account settings → Security Token Service (STS) endpoints`,
                )
              : failed(
                  `the account does not use ${target.region}: its credentials work in ${globalRegion} but not there (an opt-in region that is not enabled)`,
                  `aws account enable-region --region-name ${target.region}${profileFlag(target)} (or pick another --region)`,
                ),
        };
    }
    return {
      credentials: credentialsFailure(target, info),
      region: { outcome: 'skipped', detail: 'no credentials' },
    };
  }
}
