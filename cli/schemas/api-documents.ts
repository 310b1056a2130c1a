import { modelPolicyRoutes } from '../../functions/model-policy/api/model-policy-api.ts';
import { orchestratorRoutes } from '../../functions/orchestrator/api/run-api.ts';
import { federationOperations } from './federation-design/operations.ts';
import { buildOpenApiDocument } from './openapi-builder.ts';
import type { ApiDocumentSpec, ApiServer } from './openapi-builder.ts';
import type { JsonObject } from './json-value.ts';

/** A node deployed to AWS serves each API on its own API Gateway stage `prod` (infra/constructs/service-rest-api.ts). */
function deployedServer(service: string): ApiServer {
  return {
    url: 'https://{api_id}.execute-api.{region}.amazonaws.com/prod',
    description: `A node deployed to AWS: the ${service} API's stage (\`agentos status\` prints its URL)`,
    variables: {
      api_id: { default: 'api_id', description: `The ${service} REST API's id` },
      region: { default: 'us-east-1', description: 'The AWS region of the node' },
    },
  };
}

/** A local node (`agentos up --local`) serves each API on a port from its port base (default 8710). */
function localServer(service: string, port: number): ApiServer {
  return {
    url: `http://127.0.0.1:${port}`,
    description: `A local node started with the default port base: the ${service}`,
  };
}

/**
 * Every public API AgentOS documents, one OpenAPI document each, built from the very route
 * declarations the services serve.
 */
export const apiDocumentSpecs: ApiDocumentSpec[] = [
  {
    name: 'orchestrator',
    title: 'AgentOS Agent Orchestrator API',
    version: '1.0.0',
    description:
      'Runs and their events, agents (versioned) and tools (HLD §2.1, §3.1). Every request carries a bearer JWT naming the tenant, principal and ' +
      'scopes; every error is the ErrorEnvelope with a stable code. Responses may gain fields, and enums such ' +
      'as event types and error codes may gain values: clients ignore what they do not know.',
    servers: [localServer('Orchestrator', 8710), deployedServer('Orchestrator')],
    operations: orchestratorRoutes,
  },
  {
    name: 'model-policy',
    title: 'AgentOS Model Policy API',
    version: '1.0.0',
    description:
      'The only way any part of AgentOS reaches a model (HLD §2.1 Model API): an OpenAI-compatible gateway, the ' +
      'native invoke the Orchestrator uses, policy checks, metered usage and tenant policy administration. ' +
      'Every request carries a bearer JWT; every error is the ErrorEnvelope with a stable code. Responses may ' +
      'gain fields and enums may gain values: clients ignore what they do not know.',
    servers: [localServer('Model Policy', 8711), deployedServer('Model Policy')],
    operations: modelPolicyRoutes,
  },
  {
    name: 'federation',
    title: 'AgentOS Federation API',
    version: '0.1.0',
    description:
      'Peer discovery, run forwarding and event replication between AgentOS nodes (HLD §7). The Orchestrator ' +
      'serves the discovery routes (unauthenticated), run forwarding and event replication. Peers authenticate ' +
      'with a JWT that carries the tenant and principal they act for; mTLS between peers is recommended.',
    servers: [
      {
        url: '{peer_url}',
        description: 'A peer node: its Orchestrator base URL',
        variables: { peer_url: { default: 'https://peer.example.com', description: "The peer's base URL" } },
      },
    ],
    operations: federationOperations,
  },
];

/** The documents as the code describes them now, by name. */
export function generateApiDocuments(): { name: string; document: JsonObject }[] {
  return apiDocumentSpecs.map((spec) => ({ name: spec.name, document: buildOpenApiDocument(spec) }));
}
