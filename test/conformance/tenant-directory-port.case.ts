import { describe, expect, it } from 'vitest';
import { TenantDirectoryConflictError } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import type { TenantDirectoryPort } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import { positionOf } from '../../functions/shared/tenancy/tenant-paging.ts';
import type { TenantDirectoryOptions } from '../../functions/shared/tenancy/tenant-records.ts';
import { defaultTenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import type { IssuedToken } from '../../functions/shared/tenancy/tenant-schemas.ts';

const stamp = (at = new Date()) => ({ by: 'operator-admin', at });
const epoch = (at: Date) => Math.floor(at.getTime() / 1000);

function issued(tenantId: string, tokenId: string, principalId: string, expiresInSeconds = 600): IssuedToken {
  const now = Date.now();
  return {
    object: 'token',
    token_id: tokenId,
    tenant_id: tenantId,
    principal_id: principalId,
    scopes: ['runs:read'],
    issued_at: new Date(now).toISOString(),
    expires_at: new Date(now + expiresInSeconds * 1000).toISOString(),
    revoked_at: null,
    issued_by: 'root',
  };
}

/** The behaviour every TenantDirectoryPort adapter must have (HLD §5.2). */
export function tenantDirectoryPortConformance(
  name: string,
  factory: (options?: TenantDirectoryOptions) => Promise<TenantDirectoryPort>,
): void {
  describe(`TenantDirectoryPort conformance: ${name}`, () => {
    const tenant = () => `t${crypto.randomUUID().slice(0, 8)}`;

    it('returns a created tenant with the default quotas and the given ones', async () => {
      const port = await factory();
      const id = tenant();
      const created = await port.createTenant({ tenant_id: id, quotas: { run_burst: 5 } }, stamp());
      expect(created).toMatchObject({
        object: 'tenant',
        tenant_id: id,
        display_name: id,
        status: 'active',
        disabled_reason: null,
        quotas: { ...defaultTenantQuotas, run_burst: 5 },
        tool_allowlist: null,
        version: 1,
        updated_by: 'operator-admin',
      });
      expect(await port.getTenant(id)).toEqual(created);
      expect(await port.getTenant(tenant())).toBeUndefined();
      expect(await port.getAccess(tenant())).toBeUndefined();
    });

    it('throws TenantDirectoryConflictError (exists) when the tenant id is taken', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id, display_name: 'First' }, stamp());
      const error = await port
        .createTenant({ tenant_id: id, display_name: 'Second' }, stamp())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TenantDirectoryConflictError);
      expect(error).toMatchObject({ reason: 'exists' });
      expect((await port.getTenant(id))?.display_name).toBe('First');
    });

    it('creates a tenant once when many creates of its id race, and tells every other one it exists', async () => {
      const port = await factory();
      const id = tenant();
      const outcomes = await Promise.allSettled(
        [1, 2, 3, 4].map((n) => port.createTenant({ tenant_id: id, display_name: `try ${n}` }, stamp())),
      );
      const created = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(created).toHaveLength(1);
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(refusals).toEqual(
        Array.from({ length: 3 }, () => expect.objectContaining({ reason: 'exists' })),
      );
      expect(refusals.every((e) => e instanceof TenantDirectoryConflictError)).toBe(true);
      expect(await port.getTenant(id)).toEqual(created[0]);
    });

    it('merges partial quotas, moves the version and keeps the reason of a disabled tenant', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id, quotas: { run_burst: 5 } }, stamp());
      const updated = await port.updateTenant(id, { quotas: { max_concurrent_runs: 3 } }, stamp(), 1);
      expect(updated.quotas).toEqual({ ...defaultTenantQuotas, run_burst: 5, max_concurrent_runs: 3 });
      expect(updated.version).toBe(2);
      const disabled = await port.updateTenant(
        id,
        { status: 'disabled', disabled_reason: 'runaway costs' },
        stamp(),
      );
      expect(disabled).toMatchObject({ status: 'disabled', disabled_reason: 'runaway costs', version: 3 });
      expect((await port.getAccess(id))?.tenant).toEqual(disabled);
      const enabled = await port.updateTenant(id, { status: 'active' }, stamp());
      expect(enabled).toMatchObject({ status: 'active', disabled_reason: null, version: 4 });
    });

    it('throws TenantDirectoryConflictError when the expected version moved on or the tenant is missing', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await port.updateTenant(id, { display_name: 'Two' }, stamp());
      await expect(port.updateTenant(id, { display_name: 'Stale' }, stamp(), 1)).rejects.toMatchObject({
        reason: 'version',
      });
      await expect(port.updateTenant(tenant(), { display_name: 'X' }, stamp())).rejects.toMatchObject({
        reason: 'missing',
      });
      expect((await port.getTenant(id))?.display_name).toBe('Two');
    });

    it('never loses one of many concurrent updates', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await Promise.all(
        [1, 2, 3, 4].map((n) => port.updateTenant(id, { display_name: `name ${n}` }, stamp())),
      );
      expect((await port.getTenant(id))?.version).toBe(5);
    });

    it('lists tenants in pages with a cursor', async () => {
      const port = await factory();
      const prefix = tenant();
      const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
      for (const id of ids) await port.createTenant({ tenant_id: id }, stamp());
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await port.listTenants({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
        expect(page.tenants.length).toBeLessThanOrEqual(2);
        seen.push(...page.tenants.map((t) => t.tenant_id));
        if (page.next === null) break;
        cursor = page.next;
      }
      const ours = seen.filter((id) => id.startsWith(prefix));
      expect(ours).toEqual([...ids].sort((a, b) => positionOf(a) - positionOf(b)));
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('puts, replaces, lists and disables principals, keeping their record', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      const first = await port.putPrincipal(
        id,
        'alice@example.com',
        { type: 'user', scopes: ['runs:read'] },
        stamp(),
      );
      expect(first).toMatchObject({
        object: 'principal',
        tenant_id: id,
        principal_id: 'alice@example.com',
        scopes: ['runs:read'],
        status: 'active',
      });
      const replaced = await port.putPrincipal(
        id,
        'alice@example.com',
        { type: 'user', scopes: ['runs:read', 'runs:write'] },
        stamp(),
      );
      expect(replaced.created_at).toBe(first.created_at);
      await port.putPrincipal(id, 'bot', { type: 'service', scopes: ['runs:write'] }, stamp());
      const page = await port.listPrincipals(id, { limit: 1 });
      expect(page.principals).toHaveLength(1);
      const rest = await port.listPrincipals(id, { limit: 10, cursor: page.next ?? undefined });
      expect(rest.next).toBeNull();
      expect([...page.principals, ...rest.principals].map((p) => p.principal_id)).toEqual(
        ['alice@example.com', 'bot'].sort((a, b) => positionOf(a) - positionOf(b)),
      );

      const at = new Date();
      expect(await port.disablePrincipal(id, 'bot', stamp(at), epoch(at) + 3600)).toBe(true);
      expect(await port.disablePrincipal(id, 'bot', stamp(at), epoch(at) + 3600)).toBe(true);
      expect(await port.disablePrincipal(id, 'nobody', stamp(at), epoch(at) + 3600)).toBe(false);
      expect((await port.getPrincipal(id, 'bot'))?.status).toBe('disabled');
      expect((await port.getAccess(id))?.principalsRevokedBefore).toEqual({ bot: epoch(at) });
      expect(await port.getPrincipal(tenant(), 'bot')).toBeUndefined();
    });

    it('keeps a principal disabled until it is enabled again, past the end of its revocation', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await port.putPrincipal(id, 'bot', { type: 'service', scopes: ['runs:write'] }, stamp());
      const at = new Date();
      // Its old tokens have all expired; the principal stays disabled all the same.
      expect(await port.disablePrincipal(id, 'bot', stamp(at), epoch(at) - 1)).toBe(true);
      await port.updateTenant(id, { display_name: 'Renamed' }, stamp());
      expect((await port.getAccess(id))?.disabledPrincipals).toEqual(new Set(['bot']));
      const replaced = await port.putPrincipal(
        id,
        'bot',
        { type: 'service', scopes: ['runs:read'] },
        stamp(),
      );
      expect(replaced).toMatchObject({ status: 'disabled', scopes: ['runs:read'] });
      expect(await port.enablePrincipal(id, 'bot', stamp())).toBe(true);
      expect(await port.enablePrincipal(id, 'nobody', stamp())).toBe(false);
      expect((await port.getPrincipal(id, 'bot'))?.status).toBe('active');
      expect((await port.getAccess(id))?.disabledPrincipals).toEqual(new Set());
    });

    it('throws when one more principal than the limit is disabled, and disables it once one is enabled', async () => {
      const limit = 3;
      const port = await factory({ maxDisabledPrincipals: limit });
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      // The longest principal ids the schema allows.
      const principalId = (n: number) => `p${String(n).padStart(127, '0')}`;
      const spec = { type: 'service' as const, scopes: ['runs:read'] };
      for (let n = 0; n <= limit; n++) await port.putPrincipal(id, principalId(n), spec, stamp());
      const at = new Date();
      for (let n = 0; n < limit; n++)
        expect(await port.disablePrincipal(id, principalId(n), stamp(at), epoch(at) + 3600)).toBe(true);
      // Disabling one already disabled stays idempotent at the limit.
      expect(await port.disablePrincipal(id, principalId(0), stamp(at), epoch(at) + 3600)).toBe(true);

      const extra = principalId(limit);
      await expect(port.disablePrincipal(id, extra, stamp(at), epoch(at) + 3600)).rejects.toMatchObject({
        name: 'TenantDirectoryConflictError',
        reason: 'limit',
        message: expect.stringMatching(/has 3 disabled principals.*enable one of them again/),
      });
      expect((await port.getPrincipal(id, extra))?.status).toBe('active');
      expect((await port.getAccess(id))?.disabledPrincipals.has(extra)).toBe(false);

      expect(await port.enablePrincipal(id, principalId(0), stamp())).toBe(true);
      expect((await port.getAccess(id))?.disabledPrincipals.has(principalId(0))).toBe(false);
      expect(await port.disablePrincipal(id, extra, stamp(at), epoch(at) + 3600)).toBe(true);
      expect((await port.getPrincipal(id, extra))?.status).toBe('disabled');
      expect((await port.getAccess(id))?.disabledPrincipals).toEqual(
        new Set([principalId(1), principalId(2), extra]),
      );
    });

    it('moves a principal version on every write and replaces only the expected version', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      const spec = { type: 'user' as const, scopes: ['runs:read'] };
      await expect(port.putPrincipal(id, 'alice', spec, stamp(), 1)).rejects.toMatchObject({
        reason: 'version',
      });
      expect(await port.putPrincipal(id, 'alice', spec, stamp())).toMatchObject({ version: 1 });
      expect(await port.putPrincipal(id, 'alice', spec, stamp(), 1)).toMatchObject({ version: 2 });
      await expect(
        port.putPrincipal(id, 'alice', { ...spec, scopes: ['runs:write'] }, stamp(), 1),
      ).rejects.toMatchObject({ name: 'TenantDirectoryConflictError', reason: 'version' });
      await port.disablePrincipal(id, 'alice', stamp(), epoch(new Date()) + 60);
      expect(await port.getPrincipal(id, 'alice')).toMatchObject({ version: 3, scopes: ['runs:read'] });
      await port.enablePrincipal(id, 'alice', stamp());
      expect(await port.getPrincipal(id, 'alice')).toMatchObject({ version: 4, status: 'active' });
    });

    it('never loses one of many concurrent principal writes', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await port.putPrincipal(id, 'bot', { type: 'service', scopes: ['runs:read'] }, stamp());
      await Promise.all([
        port.putPrincipal(id, 'bot', { type: 'service', scopes: ['runs:write'] }, stamp()),
        port.disablePrincipal(id, 'bot', stamp(), epoch(new Date()) + 60),
        port.putPrincipal(id, 'bot', { type: 'service', scopes: ['runs:write'] }, stamp()),
      ]);
      expect(await port.getPrincipal(id, 'bot')).toMatchObject({
        version: 4,
        status: 'disabled',
        scopes: ['runs:write'],
      });
    });

    it('throws TenantDirectoryConflictError (missing) for a principal of an unknown tenant', async () => {
      const port = await factory();
      await expect(
        port.putPrincipal(tenant(), 'alice', { type: 'user', scopes: ['runs:read'] }, stamp()),
      ).rejects.toMatchObject({
        reason: 'missing',
      });
    });

    it('records, lists and revokes issued tokens, and ingress sees the revocation', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await port.recordToken(issued(id, 'jti-1', 'alice'));
      await port.recordToken(issued(id, 'jti-2', 'bob'));
      await port.recordToken(issued(id, 'jti-3', 'alice'));
      const inOrder = (ids: string[]) => [...ids].sort((a, b) => positionOf(a) - positionOf(b));
      const alices = await port.listTokens(id, { limit: 10, principalId: 'alice' });
      expect(alices.tokens.map((t) => t.token_id)).toEqual(inOrder(['jti-1', 'jti-3']));
      const first = await port.listTokens(id, { limit: 2 });
      const second = await port.listTokens(id, { limit: 2, cursor: first.next ?? undefined });
      expect([...first.tokens, ...second.tokens].map((t) => t.token_id)).toEqual(
        inOrder(['jti-1', 'jti-2', 'jti-3']),
      );
      expect(second.next).toBeNull();
      const firstAlice = await port.listTokens(id, { limit: 1, principalId: 'alice' });
      const nextAlice = await port.listTokens(id, {
        limit: 1,
        principalId: 'alice',
        cursor: firstAlice.next ?? undefined,
      });
      expect([...firstAlice.tokens, ...nextAlice.tokens].map((t) => t.token_id)).toEqual(
        inOrder(['jti-1', 'jti-3']),
      );

      const revoked = await port.revokeToken(id, 'jti-2', stamp());
      expect(revoked).toMatchObject({ token_id: 'jti-2', revoked_at: expect.any(String) });
      expect(await port.revokeToken(id, 'jti-2', stamp())).toEqual(revoked);
      expect(await port.revokeToken(id, 'jti-404', stamp())).toBeUndefined();
      const access = await port.getAccess(id);
      expect(Object.keys(access?.revokedTokens ?? {})).toEqual(['jti-2']);
      expect(access?.tenant.version).toBe(1);
    });

    it('forgets revocations whose tokens have expired', async () => {
      const port = await factory();
      const id = tenant();
      await port.createTenant({ tenant_id: id }, stamp());
      await port.recordToken(issued(id, 'expired', 'alice', -60));
      await port.recordToken(issued(id, 'live', 'alice'));
      await port.revokeToken(id, 'expired', stamp());
      await port.revokeToken(id, 'live', stamp());
      await port.putPrincipal(id, 'gone', { type: 'user', scopes: ['runs:read'] }, stamp());
      const at = new Date();
      await port.disablePrincipal(id, 'gone', stamp(at), epoch(at) - 1);
      expect(Object.keys((await port.getAccess(id))?.revokedTokens ?? {})).toEqual(['live']);
      expect((await port.getAccess(id))?.principalsRevokedBefore).toEqual({});
    });

    it('keeps tenants apart', async () => {
      const port = await factory();
      const a = tenant();
      const b = tenant();
      await port.createTenant({ tenant_id: a }, stamp());
      await port.createTenant({ tenant_id: b }, stamp());
      await port.putPrincipal(a, 'alice', { type: 'user', scopes: ['runs:read'] }, stamp());
      await port.recordToken(issued(a, 'jti-a', 'alice'));
      expect((await port.listPrincipals(b, { limit: 10 })).principals).toEqual([]);
      expect((await port.listTokens(b, { limit: 10 })).tokens).toEqual([]);
      expect(await port.revokeToken(b, 'jti-a', stamp())).toBeUndefined();
      expect((await port.getAccess(a))?.revokedTokens).toEqual({});
    });
  });
}
