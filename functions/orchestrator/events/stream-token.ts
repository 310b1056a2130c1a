import { scopes } from '../../shared/auth/auth-context.ts';
import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { TokenIssuer } from '../../shared/auth/token-issuer.ts';

/** The query parameter that carries a run's stream token. */
export const streamTokenParameter = 'stream_token';

/**
 * The resource a stream token is minted for: the events of one run. The token's `aud` is the node's
 * audience followed by this path, so no other route, and no other run's events, accept it.
 */
export function runEventsResource(runId: string): string {
  return `/v1/runs/${runId}/events`;
}

/** Builds the events URL a run's answer carries. */
export type EventsUrlMinter = (auth: AuthContext, runId: string, requestUrl: URL) => Promise<string>;

/**
 * Mints absolute events URLs carrying a short-lived, read-only token for that one run's events, so a
 * browser's EventSource (which cannot send `Authorization`) can follow a run without a long-lived
 * token in a URL (HLD §3.3 token lifetimes). The token holds only the caller's run-reading scopes.
 */
export function createEventsUrlMinter(options: {
  issuer: () => TokenIssuer;
  ttlSeconds: number;
  /** The API's public base URL; absent, the base the request arrived at. */
  publicBaseUrl: string | undefined;
}): EventsUrlMinter {
  const readScopes: string[] = [scopes.runsRead, scopes.runsReadAll];
  return async (auth, runId, requestUrl) => {
    const token = await options.issuer().issue({
      tenantId: auth.tenant_id,
      subject: auth.principal.id,
      scopes: auth.scopes.filter((scope) => readScopes.includes(scope)),
      resource: runEventsResource(runId),
      ttlSeconds: options.ttlSeconds,
    });
    const base = (options.publicBaseUrl ?? requestUrl.origin).replace(/\/+$/, '');
    const url = new URL(`${base}${runEventsResource(runId)}`);
    url.searchParams.set(streamTokenParameter, token);
    return url.toString();
  };
}
