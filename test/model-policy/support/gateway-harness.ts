import { installLambdaRuntimeShim } from '../../../cli/local/lambda-runtime-shim.ts';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { DynamoLedger } from '../../../functions/model-policy/adapters/dynamodb/dynamo-ledger.ts';
import { composeModelPolicy } from '../../../functions/model-policy/composition/model-policy-root.ts';
import { prepareModelPolicyEnv } from '../../../functions/model-policy/composition/model-policy-config.ts';
import type { ModelPolicyAdapters } from '../../../functions/model-policy/composition/model-policy-root.ts';
import type { LedgerPort } from '../../../functions/model-policy/ports/ledger-port.ts';
import { scopes } from '../../../functions/shared/auth/auth-context.ts';
import { createStreamingLambdaHandler } from '../../../functions/shared/http/lambda-adapter.ts';
import { serveNode } from '../../../functions/shared/http/node-adapter.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';
import { serveLambda } from '../../support/serve-lambda.ts';
import { createTestAuth } from '../../support/test-auth.ts';
import type { TestAuth } from '../../support/test-auth.ts';
import { tenantRegistrar, testTenantDirectory } from '../../support/test-tenants.ts';

/** A Model Policy served over real HTTP against a fresh emulator table. */
export type Gateway = {
  url: string;
  tableName: string;
  auth: TestAuth;
  /** A tenant member's bearer token (default scopes unless told). */
  token(tenantId: string, options?: { subject?: string; scopes?: string[] }): Promise<string>;
  /** An operator's bearer token (tenant `operator`, the default operator tenant). */
  operatorToken(): Promise<string>;
  /** POSTs or GETs JSON with a bearer token; returns status, headers and parsed body. */
  call(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    token: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
  close(): Promise<void>;
};

/** Options of {@link startGateway}. */
export type GatewayOptions = {
  /** `AGENTOS_MODEL_CATALOG`; the default local catalog when absent. */
  catalog?: unknown;
  /** `AGENTOS_MODEL_DEFAULT_POLICY`; the built-in default when absent. */
  defaultPolicy?: unknown;
  env?: Record<string, string>;
  adapters?: Partial<ModelPolicyAdapters>;
  /** Wraps the node's DynamoDB ledger, e.g. to make one of its writes fail. */
  wrapLedger?: (ledger: LedgerPort) => LedgerPort;
  /** The gateway's clock; the real one when absent. */
  now?: () => Date;
  /**
   * How the core is served: `lambda` (default) through the streaming Lambda handler behind the local
   * API Gateway front, as deployed; `node` straight from the Node adapter.
   */
  transport?: 'lambda' | 'node';
};

/**
 * Composes the Model Policy from its root with test settings, wraps it in the same streaming handler
 * as `handlers/api.ts`, and serves it through the local API Gateway front (or straight from the
 * Node adapter). Tenant policies are not
 * cached, so an admin change applies to the next call.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { resources } = await provisionTestNode('mp');
  const auth = await createTestAuth(`https://agentos.test/${resources.tableName}`, undefined, {
    registerTenant: tenantRegistrar(options.adapters?.tenants ?? testTenantDirectory(resources.tableName)),
  });
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...auth.env(),
    AGENTOS_TABLE_NAME: resources.tableName,
    AGENTOS_MODEL_POLICY_CACHE_MS: '0',
    ...(options.catalog === undefined ? {} : { AGENTOS_MODEL_CATALOG: JSON.stringify(options.catalog) }),
    ...(options.defaultPolicy === undefined
      ? {}
      : { AGENTOS_MODEL_DEFAULT_POLICY: JSON.stringify(options.defaultPolicy) }),
    ...options.env,
  };
  installLambdaRuntimeShim();
  await prepareModelPolicyEnv(env);
  const adapters: Partial<ModelPolicyAdapters> = {
    ...options.adapters,
    ...(options.wrapLedger === undefined
      ? {}
      : {
          ledger: options.wrapLedger(
            new DynamoLedger(createDocumentClient(testAwsConfig()), resources.tableName),
          ),
        }),
  };
  const root = composeModelPolicy({
    env,
    adapters,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const front: HttpFront =
    options.transport === 'node'
      ? await serveNode(root.httpApp(), {})
      : await serveLambda({
          handler: createStreamingLambdaHandler(root.httpApp(), root.telemetry, {
            afterResponse: () => root.settlements.drain(),
          }),
          timeoutSeconds: 60,
        });
  return {
    url: front.url,
    tableName: resources.tableName,
    auth,
    token: (tenantId, tokenOptions) => auth.token(tenantId, tokenOptions),
    operatorToken: () => auth.token('operator', { subject: 'ops', scopes: [scopes.operator] }),
    async call(method, path, token, body, headers = {}) {
      const response = await fetch(`${front.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      };
    },
    close: () => front.close(),
  };
}

/** A clock that runs with the real one, moved ahead on demand (leases, lapsed claims). */
export class AdjustableClock {
  #offsetMs = 0;

  readonly now = (): Date => new Date(Date.now() + this.#offsetMs);

  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}

/** A catalog whose `price_tables` price every model the same, for tests that need costs. */
export function pricedCatalog(
  catalog: { models: Record<string, unknown> } & Record<string, unknown>,
  price: { input_usd_per_mtok: number; output_usd_per_mtok: number },
): Record<string, unknown> {
  return {
    ...catalog,
    price_tables: [
      {
        version: 'test-1',
        effective_from: '2024-01-01T00:00:00Z',
        prices: Object.fromEntries(Object.keys(catalog.models).map((ref) => [ref, price])),
      },
    ],
  };
}

/** A policy that lets the tenant use everything, with the given budgets. */
export function policyWithBudgets(
  budgets: unknown[],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    entitlements: { allow: ['*'] },
    max_tokens: 4096,
    redaction: { input: true, output: false },
    budgets,
    ...overrides,
  };
}

/** An `agentos-script` system message for the local `scripted` model. */
export function script(...turns: unknown[]): { role: 'system'; content: string } {
  return { role: 'system', content: `agentos-script: ${JSON.stringify(turns)}` };
}
