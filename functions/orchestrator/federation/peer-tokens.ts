import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { JSONWebKeySet, JWK, JWTPayload } from 'jose';
import { z } from 'zod';
import { TenantIdSchema } from '../../shared/auth/auth-context.ts';
import { allowedJwtAlgorithms } from '../../shared/auth/jwt-verifier.ts';
import type { SigningJwk } from '../../shared/auth/token-issuer.ts';
import {
  AgentOsError,
  DependencyUnavailableError,
  ForbiddenError,
  InternalError,
  UnauthorizedError,
} from '../../shared/errors/agentos-error.ts';
import type { VerifiedToken } from '../../shared/tenancy/admission-port.ts';
import type { PeerRegistryPort } from '../ports/peer-registry-port.ts';
import type { PeerTokenReplayPort } from '../ports/peer-token-replay-port.ts';
import { localTenantOf } from './schemas/peer.ts';
import type { Peer } from './schemas/peer.ts';
import type { JwksSource } from './peer-jwks.ts';
import { federationScopes } from './federation-scopes.ts';

/**
 * Peer tokens (HLD §7.1): every federation request carries a short-lived JWT signed by the calling
 * node with its node key. `iss` is the caller's node id, `aud` the receiving node's, `sub` the
 * principal, `tenant_id` the tenant as the caller knows it (the receiver maps it through its peer
 * record), `jti` a one-time id, and `traceparent` the W3C trace context of the call. Its header's
 * `typ` sets it apart from every other token the same key signs.
 */

/** The `typ` of a peer token's header. */
export const peerTokenType = 'agentos-peer+jwt';

/** The longest lifetime a peer token may have: minutes, so a leaked one is soon useless. */
export const maxPeerTokenLifetimeSeconds = 300;

/** The lifetime a peer token gets unless its issuer asks for less. */
export const defaultPeerTokenTtlSeconds = 120;

const TraceparentSchema = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);

/** What a calling node asserts in a peer token. */
export type PeerTokenClaims = {
  /** The receiving node's id. */
  audience: string;
  /** The tenant on the calling node. */
  tenantId: string;
  principal: string;
  scopes: string[];
  traceparent: string;
  /** At most {@link maxPeerTokenLifetimeSeconds}; {@link defaultPeerTokenTtlSeconds} when absent. */
  ttlSeconds?: number;
};

/** Mints peer tokens with the node's key (caller side). */
export type PeerTokenIssuer = { issue(claims: PeerTokenClaims): Promise<string> };

/** Creates the caller side: tokens signed with `key` (loaded once), naming `nodeId` as issuer. */
export function createPeerTokenIssuer(options: {
  nodeId: string;
  key: SigningJwk | (() => Promise<SigningJwk>);
  now?: () => Date;
}): PeerTokenIssuer {
  const now = options.now ?? (() => new Date());
  let loading: Promise<{ jwk: SigningJwk; key: Awaited<ReturnType<typeof importJWK>> }> | undefined;
  const signingKey = () => {
    // A failed load is retried on the next call rather than cached.
    loading ??= (async () => {
      const jwk = typeof options.key === 'function' ? await options.key() : options.key;
      return { jwk, key: await importJWK(jwk as JWK, jwk.alg) };
    })().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    async issue(claims) {
      const ttl = claims.ttlSeconds ?? defaultPeerTokenTtlSeconds;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxPeerTokenLifetimeSeconds)
        throw new InternalError(`A peer token lives 1-${maxPeerTokenLifetimeSeconds} seconds, not ${ttl}`);
      if (!TraceparentSchema.safeParse(claims.traceparent).success)
        throw new InternalError('A peer token needs a W3C traceparent');
      const { jwk, key } = await signingKey();
      const issuedAt = Math.floor(now().getTime() / 1000);
      return new SignJWT({
        tenant_id: claims.tenantId,
        scope: claims.scopes.join(' '),
        traceparent: claims.traceparent,
      })
        .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: peerTokenType })
        .setIssuer(options.nodeId)
        .setAudience(claims.audience)
        .setSubject(claims.principal)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(issuedAt + ttl)
        .setJti(crypto.randomUUID())
        .sign(key);
    },
  };
}

/** A verified peer call: who the peer is and for whom, on this node, it acts. */
export type PeerCaller = {
  peer: Peer;
  /** The tenant on this node the peer acts for (its mapping of the token's tenant). */
  tenantId: string;
  /** The tenant as the peer named it. */
  peerTenantId: string;
  principal: string;
  scopes: string[];
  tokenId: string;
  traceparent: string;
  expiresAt: Date;
};

/** Verifies peer tokens (receiver side). */
export type PeerTokenVerifier = { verify(token: string): Promise<PeerCaller> };

/** Settings of the receiver side. */
export type PeerTokenVerifierOptions = {
  /** This node's id: the `aud` every peer token must carry. */
  nodeId: string;
  peers: Pick<PeerRegistryPort, 'get'>;
  replay: PeerTokenReplayPort;
  /** The peers' public keys, cached (peer-jwks.ts). */
  jwks: JwksSource;
  now?: () => Date;
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`; 5 by default. */
  clockToleranceSeconds?: number;
};

const invalid = 'The peer token is invalid or expired';

function refusal(error: unknown): AgentOsError {
  if (error instanceof AgentOsError) return error;
  if (error instanceof joseErrors.JWTExpired)
    return new UnauthorizedError('The peer token has expired', { cause: error });
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return new UnauthorizedError('The peer token is for another node', { cause: error });
    return new UnauthorizedError(`The peer token's ${error.claim} claim is invalid`, { cause: error });
  }
  if (error instanceof joseErrors.JOSEError) return new UnauthorizedError(invalid, { cause: error });
  return new InternalError('Peer token verification failed', { cause: error });
}

function claimString(payload: JWTPayload, name: string): string {
  const value = (payload as Record<string, unknown>)[name];
  if (typeof value !== 'string' || value === '')
    throw new UnauthorizedError(`The peer token has no ${name} claim`);
  return value;
}

/**
 * Creates the receiver side. A token passes when its issuer is a trusted peer, it verifies with that
 * peer's published keys (allow-listed algorithms, `typ` of a peer token), it is for this node, it is
 * within its `nbf`/`exp` and lives at most {@link maxPeerTokenLifetimeSeconds}, the peer may act for
 * its tenant, and its `jti` was never used: refusals are 401 `unauthorized`, except a tenant the
 * peer may not act for, 403 `forbidden`. The `jti` is claimed last, so a refused token burns none.
 */
export function createPeerTokenVerifier(options: PeerTokenVerifierOptions): PeerTokenVerifier {
  const now = options.now ?? (() => new Date());
  const tolerance = options.clockToleranceSeconds ?? 5;
  async function verify(token: string): Promise<PeerCaller> {
    let issuer: string;
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      const { iss } = decodeJwt(token);
      if (typeof iss !== 'string') throw new UnauthorizedError(invalid);
      issuer = iss;
      kid = typeof header.kid === 'string' ? header.kid : undefined;
    } catch (error) {
      throw error instanceof AgentOsError ? error : new UnauthorizedError(invalid, { cause: error });
    }
    const peer = await options.peers.get(issuer);
    if (peer === undefined)
      throw new UnauthorizedError('The peer token comes from a node this node does not trust');
    if (kid === undefined) throw new UnauthorizedError('The peer token names no signing key (kid)');
    const keys: JSONWebKeySet = await options.jwks.keysFor(peer.jwks_url, kid);
    if (!keys.keys.some((key) => key.kid === kid))
      throw new UnauthorizedError('The peer token is signed with a key its issuer does not publish');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, createLocalJWKSet(keys), {
        issuer: peer.peer_id,
        audience: options.nodeId,
        algorithms: [...allowedJwtAlgorithms],
        typ: peerTokenType,
        requiredClaims: ['exp', 'iat', 'nbf', 'jti', 'sub'],
        maxTokenAge: maxPeerTokenLifetimeSeconds,
        clockTolerance: tolerance,
        currentDate: now(),
      }));
    } catch (error) {
      throw refusal(error);
    }
    // jose accepts an `aud` list that contains this node; a peer token is for exactly one node.
    if (payload.aud !== options.nodeId) throw new UnauthorizedError('The peer token is for another node');
    // The principal becomes `peer/<peer_id>/<sub>`, which must stay a valid principal id.
    if (typeof payload.sub !== 'string' || !peerSubjectPattern.test(payload.sub))
      throw new UnauthorizedError('The peer token has an invalid sub claim');
    const exp = payload.exp!;
    const iat = payload.iat!;
    if (exp - iat > maxPeerTokenLifetimeSeconds)
      throw new UnauthorizedError(
        `The peer token lives longer than the ${maxPeerTokenLifetimeSeconds} seconds a peer token may`,
      );
    if (iat > now().getTime() / 1000 + tolerance)
      throw new UnauthorizedError('The peer token is issued in the future');
    const peerTenantId = claimString(payload, 'tenant_id');
    if (!TenantIdSchema.safeParse(peerTenantId).success)
      throw new UnauthorizedError('The peer token has an invalid tenant_id claim');
    const traceparent = claimString(payload, 'traceparent');
    if (!TraceparentSchema.safeParse(traceparent).success)
      throw new UnauthorizedError('The peer token has an invalid traceparent claim');
    const tenantId = localTenantOf(peer, peerTenantId);
    // Said without naming any tenant of this node: the peer learns only that it may not act for its own.
    if (tenantId === undefined)
      throw new ForbiddenError(`Peer ${peer.peer_id} may not act for tenant ${peerTenantId} on this node`);
    const tokenId = payload.jti!;
    const expiresAt = new Date(exp * 1000);
    // Remembered for as long as the token verifies, skew included: forgetting it at `exp` would let
    // it be replayed within the tolerance.
    const rememberUntil = new Date((exp + tolerance) * 1000);
    let fresh: boolean;
    try {
      fresh = await options.replay.claim(peer.peer_id, tokenId, rememberUntil);
    } catch (error) {
      throw error instanceof AgentOsError
        ? error
        : new DependencyUnavailableError('The peer token replay guard is unavailable', { cause: error });
    }
    if (!fresh) throw new UnauthorizedError('The peer token was used already; peer tokens are single-use');
    const scope = (payload as Record<string, unknown>)['scope'];
    return {
      peer,
      tenantId,
      peerTenantId,
      principal: payload.sub!,
      scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : [],
      tokenId,
      traceparent,
      expiresAt,
    };
  }
  return { verify };
}

/** A peer's principal: letters, digits and `._:@-`, short enough to stay a principal id once prefixed. */
const peerSubjectPattern = /^[A-Za-z0-9._:@-]{1,128}$/;

const peerScopes = new Set<string>(Object.values(federationScopes));

/**
 * A verified peer call as the HTTP core admits callers: the tenant on this node, a principal that
 * names the peer (`peer/<peer_id>/<sub>`, so a peer's runs are never another caller's), the token's
 * scopes, and the peer in the policy context.
 */
export function peerVerifiedToken(caller: PeerCaller): VerifiedToken {
  return {
    auth: {
      tenant_id: caller.tenantId,
      principal: { id: `peer/${caller.peer.peer_id}/${caller.principal}`, type: 'service' },
      // Only federation scopes count from a peer: what a forwarded run may do is this node's call.
      scopes: caller.scopes.filter((scope) => peerScopes.has(scope)),
      policy_context: { peer_id: caller.peer.peer_id, traceparent: caller.traceparent },
    },
    issuer: caller.peer.peer_id,
    tokenId: caller.tokenId,
  };
}
