import type { Route } from './api-types.ts';

/** `GET /v1/health`: unauthenticated liveness of a service. */
export function healthRoute(service: string): Route {
  return {
    method: 'GET',
    path: '/v1/health',
    scope: null,
    async handle() {
      return { status: 200, json: { status: 'ok', service } };
    },
  };
}
