import { z } from 'zod';
import type { ApiOperation } from '../../functions/shared/http/api-operation.ts';

/** What `GET /v1/health` (functions/shared/http/health-route.ts) answers. */
export const HealthStatusSchema = z
  .strictObject({ status: z.literal('ok'), service: z.string() })
  .meta({ id: 'HealthStatus' });

/** The unauthenticated liveness operation every service serves through the shared health route. */
export const healthOperation: ApiOperation = {
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
};
