import type { RemoteTarget } from './target.ts';

/**
 * How an account id appears in check details: the first and last four digits (`1234****9012`), enough
 * to tell two accounts apart in a report that may be shared, not enough to name the account.
 */
export function maskAccount(account: string): string {
  return /^\d{12}$/.test(account) ? `${account.slice(0, 4)}****${account.slice(8)}` : '****';
}

/**
 * `text` with every 12-digit account id masked and every access key id cut to its prefix: AWS error
 * messages quote ARNs (and so account ids) and sometimes the caller's key id.
 */
export function maskIdentifiers(text: string): string {
  return text
    .replace(/(?<!\d)\d{12}(?!\d)/g, (account) => maskAccount(account))
    .replace(/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, '$1****');
}

/** `value` as one shell word: left bare when it holds nothing a POSIX shell treats specially. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_\-./:@=+,]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * An AWS CLI command aimed at the same place as the target: its region, and its profile (AWS) or
 * endpoint (emulator), so the operator can paste it as is.
 */
export function awsCliCommand(target: RemoteTarget, ...args: string[]): string {
  const where =
    target.kind === 'endpoint'
      ? ['--region', target.region, '--endpoint-url', target.endpoint]
      : ['--region', target.region, ...(target.profile === undefined ? [] : ['--profile', target.profile])];
  return ['aws', ...args, ...where].map(shellWord).join(' ');
}

/** The qualifier `cdk bootstrap` uses when none is configured (aws-cdk-lib's DefaultStackSynthesizer). */
export const defaultBootstrapQualifier = 'hnb659fds';

/**
 * The `cdk bootstrap` command for the target's environment: with `--profile` for a named profile,
 * prefixed with `AWS_ENDPOINT_URL` for an emulator, and with `--qualifier` when it is not the default.
 */
export function cdkBootstrapCommand(target: RemoteTarget, account: string, qualifier: string): string {
  const args = ['npx', 'cdk', 'bootstrap', `aws://${account}/${target.region}`];
  if (target.kind === 'aws' && target.profile !== undefined) args.push('--profile', target.profile);
  if (qualifier !== defaultBootstrapQualifier) args.push('--qualifier', qualifier);
  const command = args.map(shellWord).join(' ');
  return target.kind === 'endpoint' ? `AWS_ENDPOINT_URL=${shellWord(target.endpoint)} ${command}` : command;
}
