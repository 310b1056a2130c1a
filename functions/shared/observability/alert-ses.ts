import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { AlertEmail, AlertTransport } from './alert-notifier.ts';
import { lazyTransporter, sendAlertMail } from './alert-smtp.ts';

/** Who an alert e-mail is from and to, in SESv2 mode. */
export type SesAlertSettings = { from: string; to: string[] };

/**
 * An {@link AlertTransport} over the SESv2 API (HLD §9.3): nodemailer builds the same MIME message it
 * would send over SMTP and SES sends it as raw content, so both paths deliver one message. The
 * client carries the timeouts and retry budget (functions/shared/aws/client-config.ts); the notifier
 * retries on top of that, this sends once. The message id is the one SES assigned.
 */
export function sesTransport(client: SESv2Client, settings: SesAlertSettings): AlertTransport {
  const transporter = lazyTransporter(() => ({ SES: { sesClient: client, SendEmailCommand } }));
  return {
    async send(email: AlertEmail) {
      const info = await sendAlertMail(await transporter(), settings, email);
      return { messageId: String(info.response) };
    },
  };
}
