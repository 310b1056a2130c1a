import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { DynamoAlertDedup } from '../../shared/observability/adapters/dynamo-alert-dedup.ts';
import { AlertNotifier } from '../../shared/observability/alert-notifier.ts';
import type { AlertTransport } from '../../shared/observability/alert-notifier.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import type { Telemetry } from '../../shared/observability/telemetry.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { systemClock } from '../../shared/timing/clock.ts';
import { createAlertHandler } from '../alert-handler.ts';
import type { AlertHandlerTelemetry } from '../alert-handler.ts';
import { alertNotifierConfigFromEnv } from './alert-notifier-config.ts';
import type * as alertTransports from './alert-transports.ts';

/** The Powertools service name of the notifier (the stack sets the same one). */
export const alertNotifierServiceName = 'alert-notifier';

/**
 * A transport that imports the transports module on its first send (see alert-transports.ts); a
 * failed import fails that send, which the notifier retries, and is tried again on the next.
 */
function transportOnFirstSend(build: (module: typeof alertTransports) => AlertTransport): AlertTransport {
  let loading: Promise<AlertTransport> | undefined;
  return {
    async send(email) {
      // A failed import or build is not remembered: the next send tries again.
      const transport = await (loading ??= import('./alert-transports.ts')
        .then(build)
        .catch((error: unknown) => {
          loading = undefined;
          throw error;
        }));
      return transport.send(email);
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
  const transport = transportOnFirstSend((module) => module.createAlertTransport(config, aws));
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
