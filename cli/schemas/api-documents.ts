import { modelPolicyRoutes } from '../../functions/model-policy/api/model-policy-api.ts';
import { orchestratorRoutes } from '../../functions/orchestrator/api/run-api.ts';
import { federationOperations } from './federation-design/operations.ts';
import { buildOpenApiDocument } from './openapi-builder.ts';
import type { ApiDocumentSpec } from './openapi-builder.ts';
import type { JsonObject } from './json-value.ts';

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
    operations: modelPolicyRoutes,
  },
  {
    name: 'federation',
    title: 'AgentOS Federation API',
    version: '0.1.0',
    status: 'stub',
    description:
      'Peer capabilities, run forwarding and event replication between AgentOS nodes (HLD §7). A design stub: ' +
      'no node serves it yet (x-implemented: false on every operation). Peers authenticate with a JWT that ' +
      'carries the tenant and principal they act for; mTLS between peers is recommended.',
    operations: federationOperations,
  },
];

/** The documents as the code describes them now, by name. */
export function generateApiDocuments(): { name: string; document: JsonObject }[] {
  return apiDocumentSpecs.map((spec) => ({ name: spec.name, document: buildOpenApiDocument(spec) }));
}
