import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { DynamoLedger } from '../adapters/dynamodb/dynamo-ledger.ts';
import { createSettlementWorkerHandler } from '../adapters/sqs/sqs-settlement-worker.ts';
import type { LedgerPort } from '../ports/ledger-port.ts';
import { settlementWorkerEnv } from './model-policy-config.ts';

/**
 * The settlement worker's composition root (HLD §5.3): the node's ledger on its table, and the SQS
 * handler that writes the settlements the Model Policy handed to the settlement queue.
 */
export function composeSettlementWorker(options: { env?: EnvSource; ledger?: LedgerPort } = {}) {
  const env = options.env ?? process.env;
  const values = settlementWorkerEnv.parse(env);
  const telemetry = createTelemetry('model-policy', env);
  const ledger =
    options.ledger ??
    new DynamoLedger(
      createDocumentClient(awsClientConfig(env), {
        tracer: telemetry.tracer,
        onStorageRefusal: () => telemetry.metrics.addMetric('StorageThrottles', MetricUnit.Count, 1),
      }),
      values.AGENTOS_TABLE_NAME,
    );
  return { telemetry, handler: createSettlementWorkerHandler({ ledger, telemetry }) };
}
