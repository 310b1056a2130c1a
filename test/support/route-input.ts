import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { RouteInput } from '../../functions/shared/http/bound-route.ts';

/** A route handler's input with only the parts a test sets: no headers, no admitted tenant. */
export function routeInput(
  auth: AuthContext,
  parts: { params?: unknown; query?: unknown; body?: unknown },
): RouteInput {
  return {
    params: parts.params ?? {},
    query: parts.query ?? {},
    body: parts.body,
    headers: {},
    auth,
    tenant: undefined,
    correlationId: 'test',
    signal: new AbortController().signal,
    url: new URL('http://node.test/'),
  } as RouteInput;
}
