import { createHash } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import { AuthContextSchema } from './auth-context.ts';
import type { AuthContext } from './auth-context.ts';
import { InternalError, UnauthorizedError } from '../errors/agentos-error.ts';
import type { VerifiedToken } from '../tenancy/admission-port.ts';

/** Only asymmetric algorithms: a verifier never holds a secret that could also mint tokens. */
export const allowedJwtAlgorithms = ['ES256', 'RS256'] as const;

/** Where the verifier finds public keys. */
export type JwksSource = { kind: 'inline'; jwks: JSONWebKeySet } | { kind: 'url'; url: string };

/** An issuer whose tokens are accepted, with the keys that sign them. */
export type TrustedIssuer = { issuer: string; jwks: JwksSource };

/** Settings of a JWT verifier. */
export type JwtVerifierOptions = {
  /**
   * Every issuer accepted (an external identity provider, the node itself, later its federation
   * peers), each verified only with its own keys: one issuer's key never vouches for another's `iss`.
   */
  issuers: readonly TrustedIssuer[];
  audience: string;
  /** Seconds of clock skew tolerated on `exp`/`nbf`. */
  clockToleranceSeconds?: number;
  /**
   * The longest lifetime this issuer may give a token (`exp − iat`, or `exp − now` without `iat`);
   * longer-lived tokens are refused, so a leaked one cannot stay valid for years. 24 hours by default.
   */
  maxLifetimeSeconds?: number;
};

/** The default of {@link JwtVerifierOptions.maxLifetimeSeconds}: one day. */
export const defaultMaxTokenLifetimeSeconds = 24 * 3600;

/** Tokens whose verification a verifier keeps, at most (the least recently verified go first). */
export const verifiedTokenCacheSize = 1_000;

/**
 * How long a verification stands, at most, before the token is verified again: a key removed from
 * an issuer's remote key set stops vouching for the tokens it signed within this time.
 */
export const verifiedTokenCacheMs = 60_000;

/**
 * Verifications already made, by a hash of the token and the audience it was verified for (never
 * the token itself, so the cache holds no usable credential). Each stands until the token expires
 * or {@link verifiedTokenCacheMs} passes, whichever comes first: a client sending the same token on
 * every call (the step worker's service token, a user's session) pays for one signature check.
 */
class VerifiedTokens {
  readonly #entries = new Map<string, { token: VerifiedToken; until: number }>();

  static keyOf(token: string, resource: string | undefined): string {
    return createHash('sha256')
      .update(resource ?? '')
      .update('\n')
      .update(token)
      .digest('base64url');
  }

  get(key: string): VerifiedToken | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() >= entry.until) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  set(key: string, token: VerifiedToken, expiresAtSeconds: number): void {
    const until = Math.min(expiresAtSeconds * 1000, Date.now() + verifiedTokenCacheMs);
    this.#entries.delete(key);
    this.#entries.set(key, { token, until });
    if (this.#entries.size > verifiedTokenCacheSize) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }
}

/** Verifies bearer tokens and turns their claims into an Auth Context. */
export type JwtVerifier = {
  verify(token: string): Promise<AuthContext>;
  /**
   * As `verify`, with what ingress admission needs besides the Auth Context (`jti`, `iat`, `iss`).
   * With `resource`, only a token minted for that one resource (`aud` = audience + resource) passes;
   * without, such a token is refused like any token for another audience.
   */
  verifyToken(token: string, options?: { resource?: string }): Promise<VerifiedToken>;
};

function readScopes(payload: JWTPayload): string[] {
  const { scope, scp } = payload as { scope?: unknown; scp?: unknown };
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  return [];
}

function toAuthContext(payload: JWTPayload): AuthContext {
  const claims = payload as JWTPayload & { tenant_id?: unknown; policy_context?: unknown; act?: unknown };
  const parsed = AuthContextSchema.safeParse({
    tenant_id: claims.tenant_id,
    principal: { id: claims.sub, type: claims.act === undefined ? 'user' : 'service' },
    scopes: readScopes(payload),
    policy_context:
      typeof claims.policy_context === 'object' && claims.policy_context !== null
        ? claims.policy_context
        : {},
  });
  if (!parsed.success) {
    const missing = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw new UnauthorizedError(`Token claims are incomplete or invalid (${missing})`);
  }
  return parsed.data;
}

function checkLifetime(payload: JWTPayload, maxSeconds: number, toleranceSeconds: number): void {
  const from = payload.iat ?? Math.floor(Date.now() / 1000);
  if (payload.exp !== undefined && payload.exp - from > maxSeconds + toleranceSeconds) {
    throw new UnauthorizedError(
      `The bearer token lives longer than the ${maxSeconds} seconds its issuer may grant`,
    );
  }
}

function keyResolver(source: JwksSource): JWTVerifyGetKey {
  if (source.kind === 'inline') return createLocalJWKSet(source.jwks);
  const url = new URL(source.url);
  // A remote set is cached by jose (refetched at most every 30 s on an unknown `kid`, 10 min max age).
  // Made on the first token of its issuer: making it loads Node's fetch (undici), ~30 ms of a cold start.
  let remote: JWTVerifyGetKey | undefined;
  return (header, token) => (remote ??= createRemoteJWKSet(url))(header, token);
}

function deepFreeze<T>(value: T, depth = 0): T {
  // Claims are small JSON; the depth bound keeps a hostile nesting from walking far.
  if (depth > 16 || typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const member of Object.values(value)) deepFreeze(member, depth + 1);
  return Object.freeze(value);
}

/** The token's `iss`, read before verification only to pick the keys that must verify it. */
function claimedIssuer(token: string): string {
  try {
    const { iss } = decodeJwt(token);
    if (typeof iss === 'string') return iss;
  } catch (cause) {
    throw new UnauthorizedError('The bearer token is invalid or expired', { cause });
  }
  throw new UnauthorizedError('The bearer token is invalid or expired');
}

/**
 * Creates a verifier that picks the trusted issuer named by the token's `iss`, then checks the
 * signature with that issuer's keys (allow-listed algorithms), `iss`, `aud`, `exp` and the
 * token's lifetime.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  if (options.issuers.length === 0)
    throw new InternalError('A JWT verifier needs at least one trusted issuer');
  const tolerance = options.clockToleranceSeconds ?? 5;
  const maxLifetime = options.maxLifetimeSeconds ?? defaultMaxTokenLifetimeSeconds;
  const resolvers = new Map(options.issuers.map((trusted) => [trusted.issuer, keyResolver(trusted.jwks)]));
  const verified = new VerifiedTokens();
  async function verifyToken(token: string, scope: { resource?: string } = {}): Promise<VerifiedToken> {
    const cacheKey = VerifiedTokens.keyOf(token, scope.resource);
    const known = verified.get(cacheKey);
    if (known !== undefined) return known;
    const issuer = claimedIssuer(token);
    const keys = resolvers.get(issuer);
    if (keys === undefined)
      throw new UnauthorizedError('The bearer token comes from an issuer this node does not trust');
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer,
        audience: scope.resource === undefined ? options.audience : `${options.audience}${scope.resource}`,
        algorithms: [...allowedJwtAlgorithms],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: tolerance,
      });
      checkLifetime(payload, maxLifetime, tolerance);
      const result: VerifiedToken = {
        auth: toAuthContext(payload),
        issuer,
        ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
        ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat } : {}),
      };
      // `exp` is a required claim: jwtVerify refuses a token without one.
      // Frozen: every caller presenting this token gets the same object.
      if (typeof payload.exp === 'number') verified.set(cacheKey, deepFreeze(result), payload.exp);
      return result;
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      if (error instanceof joseErrors.JOSEError) {
        throw new UnauthorizedError('The bearer token is invalid or expired', { cause: error });
      }
      throw new InternalError('Token verification failed', { cause: error });
    }
  }
  return {
    verifyToken,
    async verify(token) {
      return (await verifyToken(token)).auth;
    },
  };
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) throw new UnauthorizedError();
  return match[1];
}
