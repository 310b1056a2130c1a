import { GetAccountCommand, GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { z } from 'zod';
import type { NodeConfig } from '../config/node-config.ts';
import { awsErrorInfo, describeAwsError, isNotImplemented } from './preflight-aws-errors.ts';
import type { AwsErrorInfo } from './preflight-aws-errors.ts';
import { failed, ok, skipped } from './preflight-check.ts';
import type { Verdict } from './preflight-check.ts';
import { awsCliCommand, maskIdentifiers } from './preflight-text.ts';
import { operatorClientConfig } from './target.ts';
import type { RemoteTarget } from './target.ts';

const IdentitySchema = z.object({
  VerificationStatus: z.string().optional(),
  VerifiedForSendingStatus: z.boolean().optional(),
});

const AccountSchema = z.object({
  ProductionAccessEnabled: z.boolean().optional(),
  SendingEnabled: z.boolean().optional(),
});

type Identity = z.infer<typeof IdentitySchema> | 'absent';

async function identity(ses: SESv2Client, name: string): Promise<Identity> {
  try {
    return IdentitySchema.parse(await ses.send(new GetEmailIdentityCommand({ EmailIdentity: name })));
  } catch (error) {
    if (awsErrorInfo(error).name === 'NotFoundException') return 'absent';
    throw error;
  }
}

/** What the account's SES settings add to the sender's verdict: a note, or a failure. */
function accountFindings(
  target: RemoteTarget,
  config: NodeConfig,
  answer: z.infer<typeof AccountSchema> | { error: AwsErrorInfo },
): { note?: string; failure?: Verdict } {
  if ('error' in answer) {
    const detail = maskIdentifiers(describeAwsError(answer.error));
    return {
      note:
        target.kind === 'endpoint' && isNotImplemented(answer.error)
          ? `sandbox status not checked: the emulator does not implement SES GetAccount (${detail})`
          : `sandbox status unknown: GetAccount failed (${detail})`,
    };
  }
  if (answer.SendingEnabled === false)
    return {
      failure: failed(
        `sending e-mail is paused for the account in ${target.region}`,
        `see why on the SES console's account dashboard; if you paused it: ${awsCliCommand(target, 'sesv2', 'put-account-sending-attributes', '--sending-enabled')}`,
      ),
    };
  if (answer.ProductionAccessEnabled === false) {
    const recipients =
      config.alerts.recipients.length === 0 ? '' : ` (${config.alerts.recipients.join(', ')})`;
    return {
      note: `SES in ${target.region} is in the sandbox: every alert recipient${recipients} must be a verified identity too, or request production access on the SES console`,
    };
  }
  return {};
}

function senderVerdict(target: RemoteTarget, sender: string, found: Identity, domain: Identity): Verdict {
  const create = awsCliCommand(target, 'sesv2', 'create-email-identity', '--email-identity', sender);
  if (found === 'absent') {
    if (domain !== 'absent' && domain.VerifiedForSendingStatus === true)
      return ok(`${sender} has no identity of its own, but its domain is verified for sending`);
    return ok(
      `no SES identity for ${sender} yet: agentos up creates it before it deploys; then confirm the verification e-mail SES sends to it (or create it now: ${create})`,
    );
  }
  if (found.VerifiedForSendingStatus === true || found.VerificationStatus === 'SUCCESS')
    return ok(`${sender} is verified for sending`);
  if (found.VerificationStatus === 'FAILED')
    return failed(
      `verification of ${sender} failed (the link SES sent was not followed in time)`,
      `${awsCliCommand(target, 'sesv2', 'delete-email-identity', '--email-identity', sender)}, then ${create} and confirm the e-mail`,
    );
  if (found.VerificationStatus === 'TEMPORARY_FAILURE')
    return ok(
      `SES cannot tell whether ${sender} is verified just now (TEMPORARY_FAILURE); check again later`,
    );
  return ok(
    `${sender} awaits verification (${found.VerificationStatus ?? 'status not given'}): confirm the e-mail SES sent to it; alerts are not sent until then`,
  );
}

/**
 * Checks the alert sender's SES identity. Absent is fine before the first deploy (`agentos up`
 * creates it); pending verification is fine too, with a note; a failed verification is not. The account's
 * sandbox status is noted, since in the sandbox every recipient must be verified as well.
 */
export async function checkSesSender(
  target: RemoteTarget,
  config: NodeConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Verdict> {
  const sender = config.alerts.sender;
  if (config.alerts.smtp !== undefined)
    return skipped(`alerts go through the SMTP relay ${config.alerts.smtp.host}, not SES`);
  // The default sender is a placeholder: nobody receives its verification e-mail on AWS.
  if (target.kind === 'aws' && sender.endsWith('.local'))
    return failed(
      `the alert sender ${sender} is a placeholder: SES sends its verification e-mail to an address nobody reads`,
      'set "alerts": { "sender": "<an address you receive mail at>" } in the node configuration',
    );
  const ses = new SESv2Client(operatorClientConfig(target, env));
  try {
    const domainName = sender.slice(sender.lastIndexOf('@') + 1);
    const [found, account] = await Promise.all([
      identity(ses, sender),
      ses.send(new GetAccountCommand({})).then(
        (output) => AccountSchema.parse(output),
        (error: unknown) => ({ error: awsErrorInfo(error) }),
      ),
    ]);
    const domain = found === 'absent' ? await identity(ses, domainName) : 'absent';
    const extra = accountFindings(target, config, account);
    if (extra.failure !== undefined) return extra.failure;
    const verdict = senderVerdict(target, sender, found, domain);
    return extra.note === undefined ? verdict : { ...verdict, detail: `${verdict.detail}; ${extra.note}` };
  } catch (error) {
    const info = awsErrorInfo(error);
    const detail = maskIdentifiers(describeAwsError(info));
    return info.name === 'AccessDeniedException'
      ? failed(`cannot read the SES identity ${sender}: ${detail}`, 'grant the operator ses:GetEmailIdentity')
      : failed(`cannot read the SES identity ${sender}: ${detail}`);
  } finally {
    ses.destroy();
  }
}
