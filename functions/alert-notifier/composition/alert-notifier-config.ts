import { z } from 'zod';
import { awsClientEnv } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { envVar } from '../../shared/config/env-contract.ts';
import { defaultAlertWindowMs } from '../../shared/observability/alert-notifier.ts';

const emailList = z
  .string({ error: 'is required' })
  .transform((raw) =>
    raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ''),
  )
  .pipe(z.array(z.email({ error: 'must list e-mail addresses, comma-separated' })).min(1));

/**
 * The environment of the alert notifier (HLD §9.3): where the node's alarms are mailed from and to,
 * how (SESv2, or any SMTP relay with its credentials in one Secrets Manager secret), and the dedup
 * window on the node's table. No credential is ever a variable: SMTP credentials are read from the
 * secret the ARN names.
 */
export const alertNotifierEnv = awsClientEnv.extend({
  AGENTOS_TABLE_NAME: envVar.string(),
  /** The node whose alarms this notifier mails: only `agentos-<node id>-<alarm id>` alarms are. */
  AGENTOS_NODE_ID: envVar.string(),
  /** What the e-mail calls the stage; the node id when unset. */
  AGENTOS_STAGE: envVar.optionalString(),
  /** The sender: an SES identity in `ses` mode, an address the relay accepts in `smtp` mode. */
  AGENTOS_ALERT_SENDER: z.email({ error: 'must be an e-mail address' }),
  /** Comma-separated recipients. */
  AGENTOS_ALERT_RECIPIENTS: emailList,
  /** Repeated triggers of one alarm inside this window send one e-mail. */
  AGENTOS_ALERT_WINDOW_MS: envVar.int({ default: defaultAlertWindowMs, min: 1_000, max: 86_400_000 }),
  /** `ses` (the SESv2 API) or `smtp` (any relay, SES's SMTP interface included). */
  AGENTOS_ALERT_TRANSPORT: z
    .string()
    .optional()
    .transform((raw) => raw ?? 'ses')
    .pipe(z.enum(['ses', 'smtp'], { error: 'must be ses or smtp' })),
  AGENTOS_ALERT_SMTP_HOST: envVar.optionalString(),
  AGENTOS_ALERT_SMTP_PORT: envVar.int({ default: 587, min: 1, max: 65_535 }),
  /** `true` for implicit TLS (port 465); otherwise STARTTLS is used when the relay offers it. */
  AGENTOS_ALERT_SMTP_SECURE: z
    .string()
    .optional()
    .transform((raw) => raw ?? 'false')
    .pipe(z.enum(['true', 'false'], { error: 'must be true or false' }))
    .transform((raw) => raw === 'true'),
  /** A secret holding `{"user": …, "pass": …}` for the relay; unset for a relay without AUTH. */
  AGENTOS_ALERT_SMTP_SECRET_ARN: envVar.optionalString(),
  /** The budget of one send attempt (SMTP: each of connect, greeting, exchange). */
  AGENTOS_ALERT_SEND_TIMEOUT_MS: envVar.int({ default: 10_000, min: 100, max: 60_000 }),
  /** Sends tried per e-mail, the first included. */
  AGENTOS_ALERT_MAX_ATTEMPTS: envVar.int({ default: 3, min: 1, max: 5 }),
});

/** How the notifier sends. */
export type AlertTransportConfig =
  | { kind: 'ses' }
  | { kind: 'smtp'; host: string; port: number; secure: boolean; secretArn: string | undefined };

/** Settings of the alert notifier function, read once per process. */
export type AlertNotifierConfig = {
  tableName: string;
  nodeId: string;
  stage: string;
  sender: string;
  recipients: string[];
  windowMs: number;
  transport: AlertTransportConfig;
  sendTimeoutMs: number;
  maxAttempts: number;
};

/** Parses the notifier's environment; a ConfigurationError names every bad variable. */
export function alertNotifierConfigFromEnv(env: EnvSource = process.env): AlertNotifierConfig {
  const values = alertNotifierEnv.parse(env);
  const smtpHost = values.AGENTOS_ALERT_SMTP_HOST;
  if (values.AGENTOS_ALERT_TRANSPORT === 'smtp' && smtpHost === undefined) {
    // Parsed again with the host required, so the error has the contract's own shape.
    alertNotifierEnv.extend({ AGENTOS_ALERT_SMTP_HOST: envVar.string() }).parse(env);
  }
  return {
    tableName: values.AGENTOS_TABLE_NAME,
    nodeId: values.AGENTOS_NODE_ID,
    stage: values.AGENTOS_STAGE ?? values.AGENTOS_NODE_ID,
    sender: values.AGENTOS_ALERT_SENDER,
    recipients: values.AGENTOS_ALERT_RECIPIENTS,
    windowMs: values.AGENTOS_ALERT_WINDOW_MS,
    transport:
      values.AGENTOS_ALERT_TRANSPORT === 'smtp' && smtpHost !== undefined
        ? {
            kind: 'smtp',
            host: smtpHost,
            port: values.AGENTOS_ALERT_SMTP_PORT,
            secure: values.AGENTOS_ALERT_SMTP_SECURE,
            secretArn: values.AGENTOS_ALERT_SMTP_SECRET_ARN,
          }
        : { kind: 'ses' },
    sendTimeoutMs: values.AGENTOS_ALERT_SEND_TIMEOUT_MS,
    maxAttempts: values.AGENTOS_ALERT_MAX_ATTEMPTS,
  };
}
