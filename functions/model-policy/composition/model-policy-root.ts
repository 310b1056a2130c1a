import { createAdmission } from '../../shared/tenancy/admission.ts';
import { DynamoTenantDirectory } from '../../shared/tenancy/adapters/dynamo-tenant-directory.ts';
import type { TenantDirectoryPort } from '../../shared/tenancy/tenant-directory-port.ts';
import { DynamoRateLimiter } from '../../shared/limits/adapters/dynamo-rate-limiter.ts';
import type { RateLimiterPort } from '../../shared/limits/limiter-port.ts';
import { tenancyConfigFromEnv } from '../../shared/tenancy/tenancy-config.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { jwtVerifierFromEnv } from '../../shared/auth/auth-config.ts';
import { awsClientConfig } from '../../shared/aws/client-config.ts';
import type { EnvSource } from '../../shared/config/env.ts';
import { createTelemetry } from '../../shared/observability/telemetry.ts';
import { tracedClient } from '../../shared/aws/instrumented-clients.ts';
import { createDocumentClient } from '../../shared/storage/dynamo-client.ts';
import { DynamoLedger } from '../adapters/dynamodb/dynamo-ledger.ts';
import { DynamoTenantPolicyStore } from '../adapters/dynamodb/dynamo-tenant-policy-store.ts';
import { DynamoUsageStore } from '../adapters/dynamodb/dynamo-usage-store.ts';
import { ConfiguredSecrets } from '../adapters/secrets/configured-secrets.ts';
import { modelPolicyRoutes } from '../api/model-policy-api.ts';
import { modelPolicyHandlers } from '../api/model-policy-handlers.ts';
import { bindRoutes } from '../../shared/http/bound-route.ts';
import { corsPolicyFromEnv } from '../../shared/http/cors.ts';
import { createHttpApp } from '../../shared/http/http-app.ts';
import { ModelGateway } from '../invocation/model-gateway.ts';
import { DeferredSettlements } from '../invocation/deferred-settlement.ts';
import { readinessHandler, readinessTiming } from '../../shared/http/health-route.ts';
import { tableProbe } from '../../shared/storage/table-probe.ts';
import { failureReporter } from '../invocation/call-preparation.ts';
import type { GatewayMetricName } from '../invocation/model-call.ts';
import { UsageReporter } from '../metering/usage-reporter.ts';
import { TenantPolicySource } from '../policy/tenant-policy-source.ts';
import type { LedgerPort } from '../ports/ledger-port.ts';
import type { SecretsPort } from '../ports/secrets-port.ts';
import type { SettlementQueuePort } from '../ports/settlement-queue-port.ts';
import type { TenantPolicyStorePort } from '../ports/tenant-policy-store-port.ts';
import type { UsageStorePort } from '../ports/usage-store-port.ts';
import { ProviderRegistry } from '../router/provider-registry.ts';
import type { ProviderFactory } from '../router/provider-registry.ts';
import { modelPolicyConfigFromEnv } from './model-policy-config.ts';
import { createProviderFactory } from './provider-factory.ts';
import { tenantObservingLog } from '../../shared/observability/local-tenant-top.ts';

/** The adapters behind the Model Policy's ports; each can be replaced (tests, other stores). */
export type ModelPolicyAdapters = {
  ledger: LedgerPort;
  usage: UsageStorePort;
  policyStore: TenantPolicyStorePort;
  secrets: SecretsPort;
  providerFactory: ProviderFactory;
  /** The node's tenant directory, which ingress admits tokens against. */
  tenants: TenantDirectoryPort;
  /** The node's rate limiter, shared with the Orchestrator's (the tenants' model call buckets). */
  limiter: RateLimiterPort;
  /**
   * Where settlements the table keeps refusing go (HLD §5.3): SQS when the queue is configured;
   * absent, such a settlement is logged and lost.
   */
  settlementQueue?: SettlementQueuePort;
};

/** Options of {@link composeModelPolicy}. */
export type ComposeModelPolicyOptions = {
  env?: EnvSource;
  /** Adapters to use instead of the DynamoDB / Secrets Manager / catalog-built ones. */
  adapters?: Partial<ModelPolicyAdapters>;
  now?: () => Date;
  /**
   * Settle each call before its answer is sent instead of after (HLD §5.3): only for the gateway
   * benchmark's before/after comparison.
   */
  settleBeforeAnswer?: boolean;
};

/**
 * The Model Policy's composition root: reads the configuration, picks adapters for the ports (the
 * node's DynamoDB table for ledger, usage, tenant policies and rate limits; Secrets Manager and the environment
 * for credentials; the catalog's backends for providers) and builds the gateway and its routes.
 */
export function composeModelPolicy(options: ComposeModelPolicyOptions = {}) {
  const env = options.env ?? process.env;
  const now = options.now ?? (() => new Date());
  const config = modelPolicyConfigFromEnv(env);
  const telemetry = createTelemetry('model-policy', env);
  const aws = awsClientConfig(env);
  let db: DynamoDBDocumentClient | undefined;
  // On AWS every SDK call is a subsegment of the invocation's trace (HLD §9.1).
  const table = (): DynamoDBDocumentClient =>
    (db ??= createDocumentClient(aws, {
      tracer: telemetry.tracer,
      onStorageRefusal: () => telemetry.metrics.addMetric('StorageThrottles', MetricUnit.Count, 1),
    }));
  // Imported on the first secret to read: most catalogs name env: references or none.
  let secretsClient: Promise<SecretsManagerClient> | undefined;
  const secrets =
    options.adapters?.secrets ??
    new ConfiguredSecrets(
      env,
      () =>
        // A failed import or client build is not remembered: the next secret read tries again.
        (secretsClient ??= import('@aws-sdk/client-secrets-manager')
          .then((module) => tracedClient(new module.SecretsManagerClient(aws), telemetry.tracer))
          .catch((error: unknown) => {
            secretsClient = undefined;
            throw error;
          })),
    );
  const limiter = options.adapters?.limiter ?? new DynamoRateLimiter(table(), config.tableName);
  const adapters: ModelPolicyAdapters = {
    // The ledger takes the tenant's model call bucket in the claim's own write (HLD §10.2), sharing
    // what the limiter knows of it.
    ledger:
      options.adapters?.ledger ??
      new DynamoLedger(
        table(),
        config.tableName,
        limiter instanceof DynamoRateLimiter ? { rateLimiter: limiter } : {},
      ),
    usage: options.adapters?.usage ?? new DynamoUsageStore(table(), config.tableName),
    policyStore: options.adapters?.policyStore ?? new DynamoTenantPolicyStore(table(), config.tableName),
    secrets,
    providerFactory: options.adapters?.providerFactory ?? createProviderFactory(),
    tenants: options.adapters?.tenants ?? new DynamoTenantDirectory(table(), config.tableName, { now }),
    limiter,
  };
  const policies = new TenantPolicySource(
    adapters.policyStore,
    config.defaultPolicy,
    config.policyCacheMs,
    now,
  );
  const metrics = {
    count: (name: GatewayMetricName, value: number) =>
      telemetry.metrics.addMetric(name, MetricUnit.Count, value),
  };
  // Completed calls settle after their answer is delivered (HLD §5.3); on Lambda the invocation
  // waits for them once its response stream is closed (`handlers/api.ts`).
  // A settlement the table keeps refusing goes to the settlement queue, whose worker writes it later.
  let sqs: Promise<SettlementQueuePort> | undefined;
  const queueUrl = config.settlementQueueUrl;
  const queue: SettlementQueuePort | undefined =
    options.adapters?.settlementQueue ??
    (queueUrl === undefined
      ? undefined
      : {
          // Imported on the first hand-off: a healthy table never needs the SQS client.
          enqueue: async (tenantId, settlement) => {
            const adapter = await (sqs ??= import('../adapters/sqs/sqs-settlement-queue.ts')
              .then(async ({ SqsSettlementQueue }) => {
                const { SQSClient } = await import('@aws-sdk/client-sqs');
                return new SqsSettlementQueue(tracedClient(new SQSClient(aws), telemetry.tracer), queueUrl);
              })
              .catch((error: unknown) => {
                sqs = undefined;
                throw error;
              }));
            return adapter.enqueue(tenantId, settlement);
          },
        });
  const settlements = new DeferredSettlements({
    log: telemetry.logger,
    metrics,
    ...(queue === undefined ? {} : { queue }),
  });
  const gateway = new ModelGateway({
    catalog: config.catalog,
    providers: new ProviderRegistry(
      config.catalog,
      adapters.providerFactory,
      adapters.secrets,
      failureReporter({ log: telemetry.logger, metrics }),
    ),
    ledger: adapters.ledger,
    policies,
    now,
    requestRetentionSeconds: config.requestRetentionSeconds,
    // Settled calls' lines also rank tenants by spend on a local node (HLD §9.2).
    log: tenantObservingLog(telemetry.logger),
    metrics,
    limiter: adapters.limiter,
    ...(options.settleBeforeAnswer === true ? {} : { settlements }),
  });
  const admission = createAdmission(adapters.tenants, {
    cacheSeconds: tenancyConfigFromEnv(env).tenantCacheSeconds,
    now,
    reportFailure: failureReporter({ log: telemetry.logger, metrics }),
  });
  const reporter = new UsageReporter({
    usage: adapters.usage,
    ledger: adapters.ledger,
    policies,
    now,
    settled: (tenantId) => settlements.settledTenant(tenantId),
  });
  return {
    config,
    telemetry,
    gateway,
    policies,
    /** Settlements still running after their answers were delivered; drain before the process ends. */
    settlements,
    /** The node's tenant directory and the admission that caches it. */
    tenancy: { directory: adapters.tenants, admission },
    /** The HTTP core of the Model Policy function. */
    httpApp: () =>
      createHttpApp({
        service: 'model-policy',
        routes: bindRoutes(
          modelPolicyRoutes,
          modelPolicyHandlers({
            gateway,
            reporter,
            policies,
            catalog: config.catalog,
            now,
            operatorTenantId: config.operatorTenantId,
            readiness: readinessHandler(
              'model-policy',
              { table: tableProbe(table(), config.tableName) },
              { ...readinessTiming, reportFailure: failureReporter({ log: telemetry.logger, metrics }) },
            ),
          }),
        ),
        verifier: jwtVerifierFromEnv(env),
        cors: corsPolicyFromEnv(env),
        admission,
        operatorTenantId: config.operatorTenantId,
        telemetry,
        maxBodyBytes: config.maxBodyBytes,
      }),
  };
}
