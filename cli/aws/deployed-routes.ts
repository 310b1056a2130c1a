import {
  APIGatewayClient,
  GetIntegrationCommand,
  GetStagesCommand,
  NotFoundException,
  paginateGetResources,
} from '@aws-sdk/client-api-gateway';
import type { Integration, Resource } from '@aws-sdk/client-api-gateway';
import { apiRoutes, functionDefinitions } from '../../infra/resources/definitions.ts';
import type { FunctionName } from '../../infra/resources/definitions.ts';
import type { DeployedClientConfig } from './deployed-aws.ts';
import type { DeployedFunctionConfiguration } from './deployed-functions.ts';
import type { DeployedStack } from './deployed-stack.ts';

/** One of a node's REST APIs. */
export type ServiceApi = keyof typeof apiRoutes;

/** The stack output holding each API's URL. */
export const apiUrlOutputs = {
  orchestrator: 'OrchestratorApiUrl',
  modelPolicy: 'ModelPolicyApiUrl',
} as const satisfies Record<ServiceApi, string>;

/** A route as a REST API serves it: resource, method, and the function its proxy integration invokes. */
export type DeployedRoute = {
  resource: string;
  method: string;
  function: FunctionName;
  /** The integration invokes the function with response streaming. */
  streaming: boolean;
};

/** A deployed REST API: where it answers on AWS, and its routes. */
export type DeployedApi = {
  api: ServiceApi;
  restApiId: string;
  /** Base URLs it answers on (`https://{id}.execute-api.{region}.{suffix}/{stage}/`), one per stage. */
  urls: string[];
  routes: DeployedRoute[];
  /** `deployed` when read from API Gateway; `definitions` when the emulator gave no integrations. */
  source: 'deployed' | 'definitions';
};

const apiUrlPattern = /^https:\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.[^/]+\/[^/]+\/?$/;
const lambdaUriPattern =
  /:lambda:path\/[^/]+\/functions\/(arn:[^/]+)\/(invocations|response-streaming-invocations)$/;

/** A function ARN without a version or alias qualifier. */
function unqualified(arn: string): string {
  return arn.split(':').slice(0, 7).join(':');
}

/** One line per route, sorted, so two route lists compare (and diff) as text. */
export function routeLines(routes: readonly DeployedRoute[]): string[] {
  return routes
    .map((r) => `${r.method} ${r.resource} -> ${r.function}${r.streaming ? ' (streaming)' : ''}`)
    .sort();
}

/** The routes infra/resources/definitions.ts declares for an API. */
export function declaredRoutes(api: ServiceApi): DeployedRoute[] {
  return apiRoutes[api].map((route) => ({
    resource: route.resource,
    method: route.method,
    function: route.function,
    streaming: functionDefinitions[route.function].streaming,
  }));
}

/** Fails, with a diff, unless the deployed routes are the declared ones. */
export function checkRoutes(api: ServiceApi, deployed: readonly DeployedRoute[]): void {
  const expected = routeLines(declaredRoutes(api));
  const actual = routeLines(deployed);
  const missing = expected.filter((line) => !actual.includes(line)).map((line) => `- ${line}`);
  const extra = actual.filter((line) => !expected.includes(line)).map((line) => `+ ${line}`);
  if (missing.length + extra.length > 0)
    throw new Error(
      `The deployed ${api} API does not route as infra/resources/definitions.ts declares ` +
        `(- declared only, + deployed only):\n${[...missing, ...extra].join('\n')}`,
    );
}

async function integrationOf(
  client: APIGatewayClient,
  restApiId: string,
  resource: Resource,
  method: string,
): Promise<Integration | undefined> {
  const embedded = resource.resourceMethods?.[method]?.methodIntegration;
  if (embedded !== undefined) return embedded;
  try {
    return await client.send(
      new GetIntegrationCommand({ restApiId, resourceId: resource.id!, httpMethod: method }),
    );
  } catch (error) {
    // The emulator holds the method but not its integration: the caller falls back and says so.
    if (error instanceof NotFoundException) return undefined;
    throw error;
  }
}

function routeOf(
  api: ServiceApi,
  path: string,
  method: string,
  integration: Integration,
  functionsByArn: ReadonlyMap<string, FunctionName>,
): DeployedRoute {
  const where = `${api} API ${method} ${path}`;
  if (integration.type !== 'AWS_PROXY')
    throw new Error(
      `${where} has a ${integration.type} integration; only Lambda proxy integrations are served`,
    );
  const match = lambdaUriPattern.exec(integration.uri ?? '');
  if (match === null) throw new Error(`${where} integrates ${integration.uri}, not a Lambda function`);
  const name = functionsByArn.get(unqualified(match[1]!));
  if (name === undefined)
    throw new Error(`${where} invokes ${match[1]}, which is not a function of the stack`);
  return { resource: path, method, function: name, streaming: match[2] === 'response-streaming-invocations' };
}

async function readApi(
  client: APIGatewayClient,
  stack: DeployedStack,
  api: ServiceApi,
  functionsByArn: ReadonlyMap<string, FunctionName>,
  notes: string[],
): Promise<DeployedApi> {
  const output = apiUrlOutputs[api];
  const url = stack.outputs[output];
  if (url === undefined) throw new Error(`Stack ${stack.stackName} has no ${output} output`);
  const restApiId = apiUrlPattern.exec(url)?.[1];
  if (restApiId === undefined) throw new Error(`${output} ${url} is not an execute-api URL`);
  if (!stack.restApiIds.includes(restApiId))
    throw new Error(`${output} names REST API ${restApiId}, which is not one of ${stack.stackName}'s`);

  const stages = (await client.send(new GetStagesCommand({ restApiId }))).item ?? [];
  const urls = [
    ...new Set([
      url.endsWith('/') ? url : `${url}/`,
      ...stages.map(
        (stage) => `https://${restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${stage.stageName}/`,
      ),
    ]),
  ];

  const resources: Resource[] = [];
  for await (const page of paginateGetResources({ client }, { restApiId, embed: ['methods'] }))
    resources.push(...(page.items ?? []));
  const routes: DeployedRoute[] = [];
  for (const resource of resources) {
    for (const method of Object.keys(resource.resourceMethods ?? {})) {
      const integration = await integrationOf(client, restApiId, resource, method);
      if (integration === undefined) {
        notes.push(
          `the emulator gave no integration for ${api} ${method} ${resource.path}: ` +
            `serving the ${api} routes of infra/resources/definitions.ts instead of the deployed ones`,
        );
        return { api, restApiId, urls, routes: declaredRoutes(api), source: 'definitions' };
      }
      routes.push(routeOf(api, resource.path ?? '', method, integration, functionsByArn));
    }
  }
  checkRoutes(api, routes);
  return { api, restApiId, urls, routes, source: 'deployed' };
}

/**
 * Reads the node's REST APIs from API Gateway (resources, methods, and the Lambda function each
 * proxy integration invokes) and checks they route exactly as infra/resources/definitions.ts
 * declares. An emulator that keeps no integrations leaves the declared routes, with a note saying so.
 */
export async function readDeployedApis(
  config: DeployedClientConfig,
  stack: DeployedStack,
  functions: Record<FunctionName, DeployedFunctionConfiguration>,
): Promise<{ apis: Record<ServiceApi, DeployedApi>; notes: string[] }> {
  const functionsByArn = new Map(Object.values(functions).map((f) => [unqualified(f.arn), f.name] as const));
  const client = new APIGatewayClient(config);
  const notes: string[] = [];
  try {
    const [orchestrator, modelPolicy] = await Promise.all([
      readApi(client, stack, 'orchestrator', functionsByArn, notes),
      readApi(client, stack, 'modelPolicy', functionsByArn, notes),
    ]);
    return { apis: { orchestrator, modelPolicy }, notes };
  } finally {
    client.destroy();
  }
}
