import { FlattenedSign, importJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { z } from 'zod';

/** A private signing key in JWK form, with the `kid` verifiers look it up by. */
export const SigningJwkSchema = z
  .object({ kty: z.string(), kid: z.string().min(1), alg: z.enum(['ES256', 'RS256']), d: z.string() })
  .loose();

export type SigningJwk = z.infer<typeof SigningJwkSchema>;

/** What a minted token asserts. */
export type TokenClaims = {
  tenantId: string;
  subject: string;
  scopes: string[];
  /** Set when a service acts on behalf of `subject` (RFC 8693 `act`). */
  actor?: string;
  policyContext?: Record<string, unknown>;
  /** The principal that had the token issued (a tenant admin), as the `issued_by` claim, for audit. */
  issuedBy?: string;
  /**
   * Narrows the token to one resource: its `aud` becomes the issuer's audience followed by this path,
   * which no verifier accepts but one asked for exactly that resource (see `JwtVerifier.verifyToken`).
   */
  resource?: string;
  ttlSeconds: number;
};

/** Mints short-lived tokens with a node's signing key (local mode, and service-to-service calls). */
export type TokenIssuer = { issue(claims: TokenClaims): Promise<string> };

/** A minted token with what its holder's tenant records about it (HLD §5.2 issued tokens). */
export type IdentifiedToken = {
  token: string;
  /** Its `jti`, the id a revocation names. */
  tokenId: string;
  /** Its `iat` and `exp`, epoch seconds. */
  issuedAt: number;
  expiresAt: number;
};

/** An issuer that can also say which id and lifetime a token got, for tokens issued to principals. */
export type IdentifyingTokenIssuer = TokenIssuer & {
  issueIdentified(claims: TokenClaims): Promise<IdentifiedToken>;
};

/** A JWS with a detached payload (RFC 7515 appendix F), as A2A's agent card signatures carry it. */
export type DetachedSignature = { protected: string; signature: string };

/** Signs arbitrary payloads with the node's key, for documents the node vouches for (HLD §3.3). */
export type DetachedSigner = {
  /** Signs `payload` (its UTF-8 bytes); `header` members join the protected header (e.g. `jku`). */
  signDetached(payload: string, header?: Record<string, string>): Promise<DetachedSignature>;
};

/** Creates an issuer signing with `jwk` (or the key `jwk()` resolves to, loaded once) for the given issuer/audience. */
export function createTokenIssuer(options: {
  jwk: SigningJwk | (() => Promise<SigningJwk>);
  issuer: string;
  audience: string;
}): IdentifyingTokenIssuer & DetachedSigner {
  let signing: Promise<{ jwk: SigningJwk; key: Awaited<ReturnType<typeof importJWK>> }> | undefined;
  const load = async () => {
    const jwk = typeof options.jwk === 'function' ? await options.jwk() : options.jwk;
    return { jwk, key: await importJWK(jwk as JWK, jwk.alg) };
  };
  const signingKey = () => {
    // A failed load is retried on the next call rather than cached.
    signing ??= load().catch((error: unknown) => {
      signing = undefined;
      throw error;
    });
    return signing;
  };
  async function issueIdentified(claims: TokenClaims): Promise<IdentifiedToken> {
    const { jwk, key } = await signingKey();
    const payload: Record<string, unknown> = {
      tenant_id: claims.tenantId,
      scope: claims.scopes.join(' '),
    };
    if (claims.actor !== undefined) payload['act'] = { sub: claims.actor };
    if (claims.policyContext !== undefined) payload['policy_context'] = claims.policyContext;
    if (claims.issuedBy !== undefined) payload['issued_by'] = claims.issuedBy;
    const tokenId = crypto.randomUUID();
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresAt = issuedAt + claims.ttlSeconds;
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
      .setIssuer(options.issuer)
      .setAudience(claims.resource === undefined ? options.audience : `${options.audience}${claims.resource}`)
      .setSubject(claims.subject)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(tokenId)
      .sign(key);
    return { token, tokenId, issuedAt, expiresAt };
  }
  return {
    async issue(claims) {
      return (await issueIdentified(claims)).token;
    },
    issueIdentified,
    async signDetached(payload, header = {}) {
      const { jwk, key } = await signingKey();
      const signed = await new FlattenedSign(new TextEncoder().encode(payload))
        .setProtectedHeader({ ...header, alg: jwk.alg, kid: jwk.kid, typ: 'JOSE' })
        .sign(key);
      return { protected: signed.protected ?? '', signature: signed.signature };
    },
  };
}
