import type { createTransport, Transporter } from 'nodemailer';
import { z } from 'zod';
import type { AlertEmail, AlertTransport } from './alert-notifier.ts';

/** Where alert e-mail goes over SMTP (HLD §9.3: SMTP alerting out of the box). */
export const SmtpSettingsSchema = z.strictObject({
  host: z.string().min(1),
  port: z.int().min(1).max(65_535),
  /** Implicit TLS (port 465); otherwise STARTTLS is used when the server offers it. */
  secure: z.boolean().default(false),
  auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
  from: z.email(),
  to: z.array(z.email()).min(1),
  /** The budget of one send: connecting, greeting and the whole exchange each get this much. */
  timeout_ms: z.int().min(100).max(60_000).default(10_000),
});

export type SmtpSettings = z.output<typeof SmtpSettingsSchema>;

/** The options nodemailer's `createTransport` takes. */
type TransportOptions = Parameters<typeof createTransport>[0];

/**
 * A nodemailer transporter made on the first e-mail, nodemailer included: it is most of the alert
 * notifier's code, and an invocation that sends nothing (an alarm already notified within the
 * deduplication window) never loads it. A failed load is tried again on the next e-mail.
 */
export function lazyTransporter(options: () => TransportOptions): () => Promise<Transporter> {
  let made: Promise<Transporter> | undefined;
  return () =>
    (made ??= import('nodemailer').then(
      ({ createTransport }) => createTransport(options()),
      (error: unknown) => {
        made = undefined;
        throw error;
      },
    ));
}

/**
 * Sends `email` with a nodemailer transporter, as both transports do: the alert's subject, text and
 * headers from `from` to `to`. Returns what nodemailer reported (its message id and the server's answer).
 */
export function sendAlertMail(
  transporter: Transporter,
  envelope: { from: string; to: string[] },
  email: AlertEmail,
): Promise<{ messageId: string; response: string }> {
  return transporter.sendMail({
    from: envelope.from,
    to: envelope.to,
    subject: email.subject,
    text: email.text,
    headers: email.headers,
  }) as Promise<{ messageId: string; response: string }>;
}

/**
 * An {@link AlertTransport} over SMTP with nodemailer: one connection per e-mail (alerts are rare),
 * every step of it bounded by `timeout_ms`. The notifier retries; this only sends once.
 */
export function smtpTransport(settings: SmtpSettings): AlertTransport {
  const transporter = lazyTransporter(() => ({
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    ...(settings.auth === undefined ? {} : { auth: settings.auth }),
    connectionTimeout: settings.timeout_ms,
    greetingTimeout: settings.timeout_ms,
    socketTimeout: settings.timeout_ms,
    // A local sink speaks plain SMTP; a real relay offering STARTTLS is still upgraded.
    ignoreTLS: false,
  }));
  return {
    async send(email: AlertEmail) {
      const info = await sendAlertMail(await transporter(), settings, email);
      return { messageId: String(info.messageId) };
    },
  };
}
