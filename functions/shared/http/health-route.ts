import { z } from 'zod';
import type { RouteHandler } from './bound-route.ts';
import { defineRoute } from './route-spec.ts';

/** What `GET /v1/health` answers. */
export const HealthStatusSchema = z
  .strictObject({ status: z.literal('ok'), service: z.string() })
  .meta({ id: 'HealthStatus' });

/** The unauthenticated liveness operation every service serves. */
export const healthRoute = defineRoute({
  operationId: 'getHealth',
  method: 'GET',
  path: '/v1/health',
  scope: null,
  tags: ['Health'],
  summary: 'Liveness of the service',
  description: 'Unauthenticated; answers without touching any dependency.',
  responses: {
    200: {
      description: 'The service is up.',
      content: { 'application/json': { schema: HealthStatusSchema } },
    },
  },
});

/** The handler of {@link healthRoute} for one service. */
export function healthHandler(service: string): RouteHandler<typeof healthRoute> {
  return async () => ({ status: 200, json: { status: 'ok', service } });
}
