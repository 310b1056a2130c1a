import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { z } from 'zod';
import type { AwsClientConfig } from '../../shared/aws/client-config.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import type { AlertTransport } from '../../shared/observability/alert-notifier.ts';
import { sesTransport } from '../../shared/observability/alert-ses.ts';
import { smtpTransport } from '../../shared/observability/alert-smtp.ts';
import type { AlertNotifierConfig } from './alert-notifier-config.ts';

/**
 * The alert notifier's transports (HLD §9.3), in a module of their own: the composition root
 * imports it on the first e-mail to send, so nodemailer and the SESv2 and Secrets Manager clients
 * load then, not at init (an alarm repeated within the dedup window sends nothing).
 */

/** The SMTP credentials secret's shape: a user name and a password, nothing else read. */
const SmtpCredentialsSchema = z.looseObject({ user: z.string().min(1), pass: z.string().min(1) });

/** How long a process reuses the SMTP credentials it read, so a rotated secret takes effect soon. */
const credentialsTtlMs = 300_000;

/**
 * SMTP with the relay's credentials read from Secrets Manager when a send needs them (with the
 * client's timeouts and retry budget, kept for {@link credentialsTtlMs}). The secret's value is
 * never logged or put in an error.
 */
function smtpWithSecret(
  config: AlertNotifierConfig,
  smtp: Extract<AlertNotifierConfig['transport'], { kind: 'smtp' }>,
  aws: AwsClientConfig,
): AlertTransport {
  const settings = {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    from: config.sender,
    to: config.recipients,
    timeout_ms: config.sendTimeoutMs,
  };
  const secretArn = smtp.secretArn;
  if (secretArn === undefined) return smtpTransport(settings);
  const secrets = new SecretsManagerClient(aws);
  let cached: { transport: AlertTransport; until: number } | undefined;
  return {
    async send(email) {
      if (cached === undefined || cached.until <= Date.now()) {
        const answer = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
        let parsed: z.infer<typeof SmtpCredentialsSchema> | undefined;
        try {
          parsed = SmtpCredentialsSchema.parse(JSON.parse(answer.SecretString ?? ''));
        } catch {
          throw new ConfigurationError(
            'The SMTP credentials secret must hold JSON with a non-empty "user" and "pass"',
          );
        }
        cached = {
          transport: smtpTransport({ ...settings, auth: { user: parsed.user, pass: parsed.pass } }),
          until: Date.now() + credentialsTtlMs,
        };
      }
      return cached.transport.send(email);
    },
  };
}

/** The configured transport: SESv2, or an SMTP relay with its credentials from Secrets Manager. */
export function createAlertTransport(config: AlertNotifierConfig, aws: AwsClientConfig): AlertTransport {
  return config.transport.kind === 'ses'
    ? sesTransport(new SESv2Client(aws), { from: config.sender, to: config.recipients })
    : smtpWithSecret(config, config.transport, aws);
}
