import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { AwsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { DynamoAlertDedup } from '../../shared/observability/adapters/dynamo-alert-dedup.ts';
import { AlertNotifier } from '../../shared/observability/alert-notifier.ts';
import type { AlertTransport } from '../../shared/observability/alert-notifier.ts';
import { sesTransport } from '../../shared/observability/alert-ses.ts';
import { smtpTransport } from '../../shared/observability/alert-smtp.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import type { Telemetry } from '../../shared/observability/telemetry.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import { createAlertHandler } from '../alert-handler.ts';
import type { AlertHandlerTelemetry } from '../alert-handler.ts';
import { alertNotifierConfigFromEnv } from './alert-notifier-config.ts';
import type { AlertNotifierConfig } from './alert-notifier-config.ts';

/** The Powertools service name of the notifier (the stack sets the same one). */
export const alertNotifierServiceName = 'alert-notifier';

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

/** The Powertools side of the handler's telemetry. */
function handlerTelemetry(telemetry: Telemetry): AlertHandlerTelemetry {
  return {
    info: (message, attributes) => telemetry.logger.info(message, attributes),
    warn: (message, attributes) => telemetry.logger.warn(message, attributes),
    error: (message, attributes) => telemetry.logger.error(message, attributes),
    count: (metric, value) => telemetry.metrics.addMetric(metric, MetricUnit.Count, value),
    flush: () => {
      if (telemetry.metrics.hasStoredMetrics()) telemetry.metrics.publishStoredMetrics();
    },
  };
}

/**
 * The alert notifier's composition root (HLD §9.3): its configuration from the environment, the
 * dedup on the node's table, the transport (SESv2 or an SMTP relay) and the SNS handler.
 */
export function composeAlertNotifier(env: EnvSource = process.env) {
  const config = alertNotifierConfigFromEnv(env);
  const aws = awsClientConfig(env);
  const telemetry = createTelemetry(alertNotifierServiceName);
  const transport =
    config.transport.kind === 'ses'
      ? sesTransport(new SESv2Client(aws), { from: config.sender, to: config.recipients })
      : smtpWithSecret(config, config.transport, aws);
  const notifier = new AlertNotifier({
    dedup: new DynamoAlertDedup(createDocumentClient(aws), config.tableName),
    transport,
    clock: systemClock,
    windowMs: config.windowMs,
    maxAttempts: config.maxAttempts,
  });
  return {
    config,
    telemetry,
    handler: createAlertHandler({
      notifier,
      node: { nodeId: config.nodeId, stage: config.stage },
      telemetry: handlerTelemetry(telemetry),
    }),
  };
}
