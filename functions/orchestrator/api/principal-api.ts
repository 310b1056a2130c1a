import { z } from 'zod';
import { scopes } from '../../shared/auth/auth-context.ts';
import { defineRoute } from '../../shared/http/route-spec.ts';
import {
  IssuedTokenSchema,
  PrincipalIdSchema,
  PrincipalSchema,
  PrincipalSpecSchema,
} from '../../shared/tenancy/tenant-schemas.ts';
import type { HeaderSpec } from '../../shared/http/route-spec.ts';
import { maxDisabledPrincipals } from '../../shared/tenancy/tenant-records.ts';
import { ListQuerySchema } from './agent-api.ts';

/**
 * The tenant admin API (HLD §3.3, §5.2): a tenant's principals with their scopes, and the tokens the
 * node issues to them and revokes. Every route needs `tenant:admin` and acts on the caller's own
 * tenant only; an admin never grants `operator` or a scope it lacks itself. Declared once;
 * handlers in principal-handlers.ts.
 */

export const PrincipalListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z
      .array(PrincipalSchema)
      .describe('The tenant’s principals, in a stable order that is not alphabetical.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'PrincipalList' });

export const IssueTokenRequestSchema = z
  .strictObject({
    ttl_seconds: z
      .int()
      .min(60)
      .optional()
      .describe(
        'The token’s lifetime; at most the node’s maximum token lifetime, which is also the default.',
      ),
    scopes: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(64)
      .optional()
      .describe('The token’s scopes, a subset of the principal’s (all of them by default).'),
  })
  .meta({ id: 'IssueTokenRequest' });

export const IssuedTokenSecretSchema = IssuedTokenSchema.extend({
  token: z.string().describe('The bearer token. It is shown once, here; the node keeps only its metadata.'),
}).meta({ id: 'IssuedTokenSecret' });

export const TokenListSchema = z
  .strictObject({
    object: z.literal('list'),
    data: z
      .array(IssuedTokenSchema)
      .describe(
        'Issued tokens’ metadata (never the tokens), in a stable order. Filtered by `principal`, a page may hold ' +
          'fewer than `limit` tokens (even none) while `next_cursor` says more may follow.',
      ),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last one.'),
  })
  .meta({ id: 'TokenList' });

export const PutPrincipalRequestSchema = PrincipalSpecSchema.extend({
  expected_version: z
    .int()
    .min(1)
    .optional()
    .describe('Only replace the principal if this is its current version (else 409); same as `If-Match`.'),
}).meta({ id: 'PutPrincipalRequest' });

/** `If-Match` of a principal write: its version as an entity tag (`"3"`, `W/"3"`, `3`) or `*`. */
const principalIfMatch: HeaderSpec = {
  name: 'If-Match',
  required: false,
  description:
    'Replace only if the principal is at this version: its `ETag` (`"3"`); 409 conflict when it moved on or ' +
    'does not exist. `*` (or no header) replaces whatever version is current.',
  schema: z
    .string()
    .regex(/^(\*|(W\/)?"?\d{1,15}"?)$/, 'must be a principal version as an entity tag, e.g. "3"'),
};

const principalEtag: HeaderSpec = {
  name: 'ETag',
  required: true,
  description:
    'The principal’s version, as an entity tag (`"3"`): send it back in `If-Match` to update safely.',
};

const TokenListQuerySchema = ListQuerySchema.extend({
  principal: PrincipalIdSchema.optional().describe('Only the tokens issued to this principal.'),
});

const PrincipalPathSchema = z.strictObject({
  principal_id: PrincipalIdSchema.describe(
    'The principal id (the `sub` of its tokens); a malformed id is answered like an unknown one (404).',
  ),
});

const TokenPathSchema = z.strictObject({
  token_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/)
    .describe('The token id (its `jti`); a malformed id is answered like an unknown one (404).'),
});

const principalContent = { 'application/json': { schema: PrincipalSchema } };

const adminErrors = {
  403: { description: 'forbidden: the token lacks the `tenant:admin` scope.' },
  503: { description: 'dependency_unavailable: the tenant directory could not be reached; retry.' },
};

const unknownPrincipal = { description: 'not_found: no such principal in this tenant.' };

export const putPrincipal = defineRoute({
  operationId: 'putPrincipal',
  method: 'PUT',
  path: '/v1/tenant/principals/{principal_id}',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Create or replace a principal',
  description:
    'Sets the principal’s type, name and scopes. An admin grants only scopes it holds itself, never `operator`; ' +
    'tokens issued before keep their scopes until they expire or are revoked. A new principal is active; a replaced ' +
    'one keeps its status: a disabled principal stays disabled until `:enable`. Every write is conditional: with ' +
    '`If-Match` or `expected_version`, only if the principal is still at that version; without, whatever version is ' +
    'current is replaced and a concurrent change is never lost.',
  request: {
    params: PrincipalPathSchema,
    invalidParams: 'not_found',
    body: PutPrincipalRequestSchema,
    headers: [principalIfMatch],
  },
  responses: {
    200: { description: 'The principal as stored.', headers: [principalEtag], content: principalContent },
    400: {
      description:
        'invalid_request: malformed JSON, an unknown or invalid field, a scope AgentOS does not know, or an ' +
        '`If-Match` naming no version.',
    },
    ...adminErrors,
    403: {
      description:
        'forbidden: the token lacks `tenant:admin`, or a scope is `operator` or one the caller lacks.',
    },
    409: {
      description:
        'conflict: the principal is no longer at the expected version (or changed concurrently), or its id cannot ' +
        'be used on this node.',
    },
  },
});

export const listPrincipals = defineRoute({
  operationId: 'listPrincipals',
  method: 'GET',
  path: '/v1/tenant/principals',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'List the tenant’s principals',
  request: { query: ListQuerySchema },
  responses: {
    200: {
      description: 'A page of principals.',
      content: { 'application/json': { schema: PrincipalListSchema } },
    },
    400: { description: 'invalid_request: an invalid `limit` or `cursor`.' },
    ...adminErrors,
  },
});

export const getPrincipal = defineRoute({
  operationId: 'getPrincipal',
  method: 'GET',
  path: '/v1/tenant/principals/{principal_id}',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Read a principal',
  request: { params: PrincipalPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The principal.', headers: [principalEtag], content: principalContent },
    404: unknownPrincipal,
    ...adminErrors,
  },
});

export const disablePrincipal = defineRoute({
  operationId: 'disablePrincipal',
  method: 'POST',
  path: '/v1/tenant/principals/{principal_id}:disable',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Disable a principal and revoke its tokens',
  description:
    'Every token of the principal is refused (401 unauthorized, `principal_disabled`) within the tenant cache ' +
    'time (5 seconds) while it is disabled, whoever issued the token (this node or an identity provider the node ' +
    'trusts); its record stays, so its runs and usage keep their owner. Only `:enable` enables it again. Idempotent. ' +
    `A tenant has at most ${maxDisabledPrincipals} principals disabled at once: disabling one more answers 409 ` +
    '(`limit`) until one of them is enabled again.',
  request: { params: PrincipalPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The disabled principal.', content: principalContent },
    404: unknownPrincipal,
    409: {
      description:
        'conflict: an admin cannot disable itself, or the tenant already has ' +
        `${maxDisabledPrincipals} disabled principals (\`limit\`).`,
    },
    ...adminErrors,
  },
});

export const enablePrincipal = defineRoute({
  operationId: 'enablePrincipal',
  method: 'POST',
  path: '/v1/tenant/principals/{principal_id}:enable',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Enable a disabled principal again',
  description:
    'Its tokens are admitted again within the tenant cache time (5 seconds), except those issued before it was ' +
    'disabled: they stay refused. Idempotent.',
  request: { params: PrincipalPathSchema, invalidParams: 'not_found' },
  responses: {
    200: { description: 'The enabled principal.', content: principalContent },
    404: unknownPrincipal,
    ...adminErrors,
  },
});

export const issuePrincipalToken = defineRoute({
  operationId: 'issuePrincipalToken',
  method: 'POST',
  path: '/v1/tenant/principals/{principal_id}/tokens',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Issue a token to a principal',
  description:
    'Signs a bearer token for the principal with the node’s key and records its metadata (id, scopes, expiry, and ' +
    'the calling admin as `issued_by`, also a claim of the token). ' +
    'The token is in this answer only. Revoke it with `POST /v1/tenant/tokens/{token_id}:revoke`.',
  request: { params: PrincipalPathSchema, invalidParams: 'not_found', body: IssueTokenRequestSchema },
  responses: {
    201: {
      description: 'The token and its metadata.',
      content: { 'application/json': { schema: IssuedTokenSecretSchema } },
    },
    400: {
      description:
        'invalid_request: `ttl_seconds` over the node’s maximum token lifetime, or a scope the principal lacks.',
    },
    404: unknownPrincipal,
    409: { description: 'conflict: the principal is disabled.' },
    ...adminErrors,
    403: {
      description:
        'forbidden: the token lacks `tenant:admin`, or the token would carry a scope the caller lacks.',
    },
  },
});

export const listTokens = defineRoute({
  operationId: 'listTokens',
  method: 'GET',
  path: '/v1/tenant/tokens',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'List the tokens issued to the tenant’s principals',
  description: 'Their metadata only: a token is shown once, when issued.',
  request: { query: TokenListQuerySchema },
  responses: {
    200: { description: 'A page of tokens.', content: { 'application/json': { schema: TokenListSchema } } },
    400: { description: 'invalid_request: an invalid `limit`, `cursor` or `principal`.' },
    ...adminErrors,
  },
});

export const revokeToken = defineRoute({
  operationId: 'revokeToken',
  method: 'POST',
  path: '/v1/tenant/tokens/{token_id}:revoke',
  scope: scopes.tenantAdmin,
  tags: ['Principals'],
  summary: 'Revoke an issued token',
  description:
    'The token is refused (401 unauthorized, `token_revoked`) within the tenant cache time (5 seconds), ' +
    'without a redeploy. Idempotent.',
  request: { params: TokenPathSchema, invalidParams: 'not_found' },
  responses: {
    200: {
      description: 'The revoked token’s metadata.',
      content: { 'application/json': { schema: IssuedTokenSchema } },
    },
    404: { description: 'not_found: the tenant issued no such token.' },
    ...adminErrors,
  },
});

/** The tenant admin routes, in document order. */
export const principalRoutes = [
  putPrincipal,
  listPrincipals,
  getPrincipal,
  disablePrincipal,
  enablePrincipal,
  issuePrincipalToken,
  listTokens,
  revokeToken,
] as const;
