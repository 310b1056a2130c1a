import { z } from 'zod';
import { privateJwkMembers } from '../auth/signing-keys.ts';
import { ConfigurationError } from '../errors/agentos-error.ts';
import type { RouteHandler } from './bound-route.ts';
import { defineRoute } from './route-spec.ts';

/** One public key of the node's JWKS (RFC 7517); private members are never published. */
const PublicJwkSchema = z
  .looseObject({
    kty: z.string(),
    kid: z.string(),
    alg: z.string().optional(),
    use: z.string().optional(),
  })
  .meta({ id: 'PublicJwk' });

/** What `GET /.well-known/jwks.json` answers. */
export const JwksSchema = z.strictObject({ keys: z.array(PublicJwkSchema) }).meta({ id: 'Jwks' });

/**
 * The node's public signing keys (HLD §3.3): every service token the node issues verifies with one
 * of them; during a key rotation both the new and the previous key are listed.
 */
export const jwksRoute = defineRoute({
  operationId: 'getJwks',
  method: 'GET',
  path: '/.well-known/jwks.json',
  scope: null,
  tags: ['Health'],
  summary: "The node's public signing keys",
  description:
    'Unauthenticated. The keys that verify tokens this node issues (its `iss` is the Orchestrator base URL); ' +
    'a key that is being rotated out stays listed until tokens it signed have expired.',
  responses: {
    200: {
      description: 'The JWK set.',
      content: { 'application/json': { schema: JwksSchema } },
    },
  },
});

/** How long clients and caches may keep the key set: short enough for a rotation overlap of minutes. */
const jwksMaxAgeSeconds = 300;

/** The handler of {@link jwksRoute}, answering the node's public keys. */
export function jwksHandler(jwks: {
  keys: readonly Record<string, unknown>[];
}): RouteHandler<typeof jwksRoute> {
  const parsed = JwksSchema.safeParse(jwks);
  // Refused at load: a node publishing a malformed key set would fail every peer's verification,
  // and one holding a private member would publish its signing key.
  if (!parsed.success) throw new ConfigurationError('The node JWKS has a key without kty or kid');
  if (parsed.data.keys.some((key) => privateJwkMembers.some((member) => member in key)))
    throw new ConfigurationError('The node JWKS holds a private key member; publish public keys only');
  const body = parsed.data;
  return async () => ({
    status: 200,
    headers: { 'cache-control': `public, max-age=${jwksMaxAgeSeconds}` },
    json: body,
  });
}
