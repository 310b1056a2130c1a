import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { principalHandlers } from '../../../functions/orchestrator/api/principal-handlers.ts';
import { defaultTenantScopes } from '../../../functions/shared/auth/auth-context.ts';
import type { AuthContext } from '../../../functions/shared/auth/auth-context.ts';
import { createJwtVerifier } from '../../../functions/shared/auth/jwt-verifier.ts';
import { InMemoryTenantDirectory } from '../../../functions/shared/tenancy/adapters/in-memory-tenant-directory.ts';
import { createTestAuth } from '../../support/test-auth.ts';
import { admissionOver } from '../../support/recording-admission.ts';
import { routeInput as input } from '../../support/route-input.ts';

const admin: AuthContext = {
  tenant_id: 'acme',
  principal: { id: 'root', type: 'user' },
  scopes: ['tenant:admin', 'runs:read', 'runs:write', 'usage:read'],
  policy_context: {},
};

async function setup() {
  const auth = await createTestAuth();
  const directory = new InMemoryTenantDirectory();
  await directory.createTenant({ tenant_id: 'acme' }, { by: 'ops', at: new Date() });
  await directory.createTenant({ tenant_id: 'globex' }, { by: 'ops', at: new Date() });
  const admission = admissionOver(directory);
  const handlers = principalHandlers({
    directory,
    admission,
    issuer: () => auth.tokens as never,
    maxTokenLifetimeSeconds: 3600,
    now: () => new Date(),
  });
  const put = (principalId: string, scopes: string[], as = admin) =>
    handlers.putPrincipal(
      input(as, { params: { principal_id: principalId }, body: { type: 'service', scopes } }) as never,
    );
  return { auth, directory, admission, handlers, put };
}

describe('the tenant admin API', () => {
  it('puts, reads and lists principals of its own tenant only', async () => {
    const { handlers, put } = await setup();
    expect(await put('bot', ['runs:read'])).toMatchObject({
      status: 200,
      json: {
        object: 'principal',
        tenant_id: 'acme',
        principal_id: 'bot',
        scopes: ['runs:read'],
        status: 'active',
      },
    });
    await put('other', ['runs:read'], { ...admin, tenant_id: 'globex' });
    expect(await handlers.listPrincipals(input(admin, { query: {} }) as never)).toMatchObject({
      json: { data: [{ principal_id: 'bot' }], next_cursor: null },
    });
    await expect(
      handlers.getPrincipal(input(admin, { params: { principal_id: 'other' } }) as never),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('throws when granting operator, a scope the admin lacks, or an unknown scope', async () => {
    const { put } = await setup();
    await expect(put('bot', ['operator'])).rejects.toMatchObject({ code: 'forbidden' });
    await expect(put('bot', ['runs:read:all'])).rejects.toMatchObject({
      code: 'forbidden',
      details: { scopes: ['runs:read:all'] },
    });
    await expect(put('bot', ['runs:everything'])).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('issues a node-signed token once, within the principal scopes, and records only its metadata', async () => {
    const { auth, directory, handlers, put } = await setup();
    await put('bot', ['runs:read', 'runs:write']);
    const issued = await handlers.issuePrincipalToken(
      input(admin, {
        params: { principal_id: 'bot' },
        body: { ttl_seconds: 600, scopes: ['runs:read'] },
      }) as never,
    );
    const json = (issued as { json: { token: string; token_id: string; expires_at: string } }).json;
    expect(issued).toMatchObject({
      status: 201,
      json: { object: 'token', principal_id: 'bot', scopes: ['runs:read'] },
    });
    const claims = decodeJwt(json.token);
    expect(claims).toMatchObject({ sub: 'bot', tenant_id: 'acme', scope: 'runs:read', jti: json.token_id });
    expect(claims.exp! - claims.iat!).toBe(600);
    expect(new Date(json.expires_at).getTime() / 1000).toBe(claims.exp);
    const verifier = createJwtVerifier({
      issuers: [{ issuer: auth.issuer, jwks: { kind: 'inline', jwks: auth.jwks } }],
      audience: auth.audience,
      maxLifetimeSeconds: 3600,
    });
    expect(await verifier.verifyToken(json.token)).toMatchObject({
      tokenId: json.token_id,
      auth: { tenant_id: 'acme', principal: { id: 'bot' }, scopes: ['runs:read'] },
    });
    expect((await directory.listTokens('acme', { limit: 100 })).tokens).toEqual([
      expect.not.objectContaining({ token: expect.anything() }),
    ]);

    const listed = await handlers.listTokens(input(admin, { query: { principal: 'bot' } }) as never);
    expect(listed).toMatchObject({ json: { data: [{ token_id: json.token_id, revoked_at: null }] } });
    expect(JSON.stringify(listed)).not.toContain(json.token);
  });

  it('throws when a token would outlive the node maximum or carry more than the principal holds', async () => {
    const { handlers, put } = await setup();
    await put('bot', ['runs:read']);
    await expect(
      handlers.issuePrincipalToken(
        input(admin, { params: { principal_id: 'bot' }, body: { ttl_seconds: 3601 } }) as never,
      ),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      handlers.issuePrincipalToken(
        input(admin, { params: { principal_id: 'bot' }, body: { scopes: ['runs:write'] } }) as never,
      ),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      handlers.issuePrincipalToken(input(admin, { params: { principal_id: 'ghost' }, body: {} }) as never),
    ).rejects.toMatchObject({ code: 'not_found' });
  });

  it('throws when an admin without a scope issues a token carrying it', async () => {
    const { handlers, put } = await setup();
    await put('bot', ['runs:read', 'runs:write']);
    const narrow = { ...admin, scopes: ['tenant:admin', 'runs:read'] };
    await expect(
      handlers.issuePrincipalToken(input(narrow, { params: { principal_id: 'bot' }, body: {} }) as never),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('revokes a token and disables a principal, forgetting the cached tenant each time', async () => {
    const { directory, admission, handlers, put } = await setup();
    await put('bot', [...defaultTenantScopes.filter((scope) => admin.scopes.includes(scope))]);
    const issued = await handlers.issuePrincipalToken(
      input(admin, { params: { principal_id: 'bot' }, body: {} }) as never,
    );
    const tokenId = (issued as { json: { token_id: string } }).json.token_id;

    const revoked = await handlers.revokeToken(input(admin, { params: { token_id: tokenId } }) as never);
    expect(revoked).toMatchObject({ json: { token_id: tokenId, revoked_at: expect.any(String) } });
    expect(Object.keys((await directory.getAccess('acme'))!.revokedTokens)).toEqual([tokenId]);
    await expect(
      handlers.revokeToken(
        input({ ...admin, tenant_id: 'globex' }, { params: { token_id: tokenId } }) as never,
      ),
    ).rejects.toMatchObject({ code: 'not_found' });

    const disabled = await handlers.disablePrincipal(
      input(admin, { params: { principal_id: 'bot' } }) as never,
    );
    expect(disabled).toMatchObject({ json: { status: 'disabled' } });
    expect((await directory.getAccess('acme'))!.principalsRevokedBefore).toHaveProperty('bot');
    expect(admission.forgotten.filter((tenant) => tenant === 'acme')).toHaveLength(3);
    await expect(
      handlers.issuePrincipalToken(input(admin, { params: { principal_id: 'bot' }, body: {} }) as never),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      handlers.disablePrincipal(input(admin, { params: { principal_id: 'root' } }) as never),
    ).rejects.toMatchObject({ code: 'conflict' });
  });
});
