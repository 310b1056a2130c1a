import { describe, expect, it } from 'vitest';
import { streamingRoutes } from '../../../functions/orchestrator/composition/orchestrator-events-http.ts';
import { orchestratorRoutes } from '../../../functions/orchestrator/api/run-api.ts';
import { apiRoutes } from '../../../infra/resources/definitions.ts';

describe('the events function’s routes', () => {
  const served = streamingRoutes.map((route) => `${route.method} ${route.path}`);

  it('serves every method and path API Gateway sends to it', () => {
    const sent = apiRoutes.orchestrator
      .filter((route) => route.function === 'orchestratorEvents' && route.method !== 'OPTIONS')
      .map((route) => `${route.method} ${route.resource}`);
    expect(sent).toContain('GET /v1/runs/{run_id}/events');
    expect(served).toEqual(expect.arrayContaining(sent));
  });

  it('declares no route of its own: each is one of the Orchestrator API’s declarations', () => {
    for (const route of streamingRoutes) expect(orchestratorRoutes).toContain(route);
  });
});
