import { describe, expect, it } from 'vitest';
import { apiDocumentSpecs } from '../../cli/schemas/api-documents.ts';
import type { ApiOperation } from '../../functions/shared/http/api-operation.ts';
import { modelPolicyRoutes } from '../../functions/model-policy/api/model-policy-routes.ts';
import { eventRoutes, runRoutes } from '../../functions/orchestrator/api/run-routes.ts';
import { healthRoute } from '../../functions/shared/http/health-route.ts';
import type { Route } from '../../functions/shared/http/api-types.ts';

/** Stands in for dependencies the route factories need but only their handlers would call. */
const neverCalled = new Proxy(
  {},
  {
    get(_target, property) {
      throw new Error(`a route factory used its dependency (${String(property)}) while being built`);
    },
  },
) as never;

const orchestratorRoutes: Route[] = [
  healthRoute('agent-orchestrator'),
  ...runRoutes(neverCalled),
  ...eventRoutes(neverCalled, neverCalled, neverCalled),
];

const modelPolicyServed: Route[] = modelPolicyRoutes({
  gateway: neverCalled,
  reporter: neverCalled,
  policies: neverCalled,
  catalog: neverCalled,
  log: neverCalled,
  maxBodyBytes: 1024,
  now: () => new Date(0),
});

function signature(entry: { method: string; path: string; scope: string | null }): string {
  return `${entry.method} ${entry.path} [${entry.scope ?? 'no scope'}]`;
}

function documented(name: string): ApiOperation[] {
  const spec = apiDocumentSpecs.find((candidate) => candidate.name === name);
  if (spec === undefined) throw new Error(`No document ${name}`);
  return spec.operations;
}

describe('documented operations match the routes services serve', () => {
  it('the Orchestrator serves exactly its documented operations, with the same scopes', () => {
    const implemented = documented('orchestrator').filter((operation) => operation.implemented !== false);
    expect(orchestratorRoutes.map(signature).sort()).toEqual(implemented.map(signature).sort());
  });

  it('the Model Policy serves exactly its documented operations, with the same scopes', () => {
    expect(modelPolicyServed.map(signature).sort()).toEqual(documented('model-policy').map(signature).sort());
  });

  it.each(['orchestrator', 'model-policy', 'federation'])('%s documents each route once', (name) => {
    const signatures = documented(name).map(signature);
    expect(signatures.length).toBe(new Set(signatures).size);
  });

  it('the federation stub documents only operations no route serves yet', () => {
    const operations = documented('federation');
    expect(operations.map((operation) => operation.implemented)).toEqual(operations.map(() => false));
    const served = new Set(orchestratorRoutes.map((route) => `${route.method} ${route.path}`));
    expect(operations.filter((operation) => served.has(`${operation.method} ${operation.path}`))).toEqual([]);
  });
});
