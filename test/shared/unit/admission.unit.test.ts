import { describe, expect, it, vi } from 'vitest';
import { defaultTenantScopes } from '../../../functions/shared/auth/auth-context.ts';
import { InMemoryTenantDirectory } from '../../../functions/shared/tenancy/adapters/in-memory-tenant-directory.ts';
import { createAdmission } from '../../../functions/shared/tenancy/admission.ts';
import type { VerifiedToken } from '../../../functions/shared/tenancy/admission-port.ts';
import type { TenantDirectoryPort } from '../../../functions/shared/tenancy/tenant-directory-port.ts';
import { ManualClock } from '../../support/manual-clock.ts';

function tokenFor(tenantId: string, options: { tokenId?: string; issuedAt?: number; subject?: string } = {}) {
  return {
    auth: {
      tenant_id: tenantId,
      principal: { id: options.subject ?? 'alice', type: 'user' },
      scopes: [...defaultTenantScopes],
      policy_context: {},
    },
    issuer: 'https://agentos.test/node',
    ...(options.tokenId === undefined ? {} : { tokenId: options.tokenId }),
    ...(options.issuedAt === undefined ? {} : { issuedAt: options.issuedAt }),
  } satisfies VerifiedToken;
}

async function setup(options: { cacheSeconds?: number; maxEntries?: number } = {}) {
  const clock = new ManualClock();
  const directory = new InMemoryTenantDirectory({ now: () => clock.date() });
  const stamp = () => ({ by: 'operator', at: clock.date() });
  const reportFailure = vi.fn();
  const admission = createAdmission(directory, { ...options, now: () => clock.date(), reportFailure });
  return { clock, directory, stamp, admission, reportFailure };
}

describe('createAdmission', () => {
  it('returns the tenant of a registered, active tenant', async () => {
    const { directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme', quotas: { run_burst: 7 } }, stamp());
    const tenant = await admission.admit(tokenFor('acme'));
    expect(tenant).toMatchObject({ tenant_id: 'acme', status: 'active', quotas: { run_burst: 7 } });
    expect(await admission.tenant('acme')).toEqual(tenant);
    expect(await admission.tenant('nobody')).toBeUndefined();
  });

  it('refuses a token of an unknown tenant, naming how an operator registers it', async () => {
    const { admission } = await setup();
    const error = await admission.admit(tokenFor('ghost')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401, details: { reason: 'tenant_unknown' } });
    expect((error as Error).message).toContain('agentos tenants create ghost');
  });

  it('admits a tenant registered after it was refused, once the short unknown time has passed', async () => {
    const { clock, directory, stamp, admission } = await setup();
    await expect(admission.admit(tokenFor('late'))).rejects.toMatchObject({
      details: { reason: 'tenant_unknown' },
    });
    await directory.createTenant({ tenant_id: 'late' }, stamp());
    await expect(admission.admit(tokenFor('late'))).rejects.toMatchObject({
      details: { reason: 'tenant_unknown' },
    });
    clock.advance(1_001);
    await expect(admission.admit(tokenFor('late'))).resolves.toMatchObject({ tenant_id: 'late' });
  });

  it('refuses a token whose tenant was disabled, within the cache time', async () => {
    const { clock, directory, stamp, admission } = await setup({ cacheSeconds: 5 });
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    await admission.admit(tokenFor('acme'));
    await directory.updateTenant('acme', { status: 'disabled', disabled_reason: 'unpaid invoices' }, stamp());
    // Still cached: the change is seen once the cache time has passed, never later.
    await expect(admission.admit(tokenFor('acme'))).resolves.toMatchObject({ status: 'active' });
    clock.advance(5_001);
    const error = await admission.admit(tokenFor('acme')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'forbidden', status: 403, details: { reason: 'tenant_disabled' } });
    expect((error as Error).message).toContain('unpaid invoices');
  });

  it('sees a change at once after forget', async () => {
    const { directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    await admission.admit(tokenFor('acme'));
    await directory.updateTenant('acme', { status: 'disabled', disabled_reason: 'abuse' }, stamp());
    admission.forget('acme');
    await expect(admission.admit(tokenFor('acme'))).rejects.toMatchObject({
      details: { reason: 'tenant_disabled' },
    });
    await directory.updateTenant('acme', { status: 'active' }, stamp());
    admission.forget('acme');
    await expect(admission.admit(tokenFor('acme'))).resolves.toMatchObject({ status: 'active' });
  });

  it('reads the directory again after forget, even while an older read is in flight', async () => {
    const { directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    const before = await directory.getAccess('acme');
    let release: () => void = () => undefined;
    const slow = vi
      .spyOn(directory, 'getAccess')
      .mockImplementationOnce(() => new Promise((resolve) => (release = () => resolve(before))));
    const inFlight = admission.admit(tokenFor('acme'));
    await directory.updateTenant('acme', { status: 'disabled', disabled_reason: 'abuse' }, stamp());
    admission.forget('acme');
    release();
    await expect(inFlight).resolves.toMatchObject({ status: 'active' });
    await expect(admission.admit(tokenFor('acme'))).rejects.toMatchObject({
      details: { reason: 'tenant_disabled' },
    });
    slow.mockRestore();
  });

  it("refuses a revoked token and admits the tenant's other tokens", async () => {
    const { clock, directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    const at = clock.date();
    await directory.recordToken({
      object: 'token',
      token_id: 'jti-1',
      tenant_id: 'acme',
      principal_id: 'alice',
      scopes: [],
      issued_at: at.toISOString(),
      expires_at: new Date(at.getTime() + 600_000).toISOString(),
      revoked_at: null,
      issued_by: 'root',
    });
    await directory.revokeToken('acme', 'jti-1', stamp());
    await expect(admission.admit(tokenFor('acme', { tokenId: 'jti-1' }))).rejects.toMatchObject({
      code: 'unauthorized',
      details: { reason: 'token_revoked' },
    });
    await expect(admission.admit(tokenFor('acme', { tokenId: 'jti-2' }))).resolves.toMatchObject({
      tenant_id: 'acme',
    });
  });

  it('refuses tokens a disabled principal got before it was disabled, even once it is enabled again', async () => {
    const { clock, directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    await directory.putPrincipal('acme', 'bot', { type: 'service', scopes: ['runs:write'] }, stamp());
    const issuedAt = Math.floor(clock.now() / 1000);
    await directory.disablePrincipal('acme', 'bot', stamp(), issuedAt + 3600);
    for (const token of [
      tokenFor('acme', { subject: 'bot', issuedAt }),
      tokenFor('acme', { subject: 'bot' }),
    ])
      await expect(admission.admit(token)).rejects.toMatchObject({
        code: 'unauthorized',
        details: { reason: 'principal_disabled' },
      });
    await directory.enablePrincipal('acme', 'bot', stamp());
    admission.forget('acme');
    await expect(admission.admit(tokenFor('acme', { subject: 'bot', issuedAt }))).rejects.toMatchObject({
      details: { reason: 'principal_disabled' },
    });
    await expect(
      admission.admit(tokenFor('acme', { subject: 'bot', issuedAt: issuedAt + 1 })),
    ).resolves.toBeDefined();
    await expect(admission.admit(tokenFor('acme', { subject: 'alice', issuedAt }))).resolves.toBeDefined();
  });

  it('refuses any token of a disabled principal, issued before or after, until it is enabled again', async () => {
    const { clock, directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    await directory.putPrincipal('acme', 'bot', { type: 'service', scopes: ['runs:write'] }, stamp());
    const disabledAt = Math.floor(clock.date().getTime() / 1000);
    await directory.disablePrincipal('acme', 'bot', stamp(), disabledAt + 3600);
    admission.forget('acme');
    // A token an identity provider issued later still names the disabled principal.
    await expect(
      admission.admit(tokenFor('acme', { subject: 'bot', issuedAt: disabledAt + 60 })),
    ).rejects.toMatchObject({ code: 'unauthorized', details: { reason: 'principal_disabled' } });
    await directory.enablePrincipal('acme', 'bot', stamp());
    admission.forget('acme');
    await expect(
      admission.admit(tokenFor('acme', { subject: 'bot', issuedAt: disabledAt + 60 })),
    ).resolves.toMatchObject({ tenant_id: 'acme' });
    await expect(
      admission.admit(tokenFor('acme', { subject: 'bot', issuedAt: disabledAt })),
    ).rejects.toMatchObject({ details: { reason: 'principal_disabled' } });
  });

  it('throws DependencyUnavailableError when the directory fails and nothing is cached', async () => {
    const failing = { getAccess: vi.fn().mockRejectedValue(new Error('table gone')) };
    const admission = createAdmission(failing as unknown as TenantDirectoryPort);
    await expect(admission.admit(tokenFor('acme'))).rejects.toMatchObject({
      code: 'dependency_unavailable',
      status: 503,
    });
  });

  it('keeps admitting with the expired record while the directory fails, and reports the failure', async () => {
    const { clock, directory, stamp, admission, reportFailure } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    await admission.admit(tokenFor('acme'));
    vi.spyOn(directory, 'getAccess').mockRejectedValue(new Error('throttled'));
    clock.advance(10_000);
    await expect(admission.admit(tokenFor('acme'))).resolves.toMatchObject({ tenant_id: 'acme' });
    await admission.admit(tokenFor('acme'));
    expect(reportFailure).toHaveBeenCalledOnce();
  });

  it('reads the directory once for concurrent requests of a tenant and once per cache time', async () => {
    const { clock, directory, stamp, admission } = await setup();
    await directory.createTenant({ tenant_id: 'acme' }, stamp());
    const reads = vi.spyOn(directory, 'getAccess');
    await Promise.all([1, 2, 3].map(() => admission.admit(tokenFor('acme'))));
    await admission.admit(tokenFor('acme'));
    expect(reads).toHaveBeenCalledTimes(1);
    clock.advance(5_001);
    await admission.admit(tokenFor('acme'));
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('forgets the least recently used tenant beyond maxEntries', async () => {
    const { directory, stamp, admission } = await setup({ maxEntries: 2 });
    for (const id of ['a1', 'b1', 'c1']) await directory.createTenant({ tenant_id: id }, stamp());
    const reads = vi.spyOn(directory, 'getAccess');
    await admission.tenant('a1');
    await admission.tenant('b1');
    await admission.tenant('a1');
    await admission.tenant('c1');
    expect(reads).toHaveBeenCalledTimes(3);
    await admission.tenant('a1');
    expect(reads).toHaveBeenCalledTimes(3);
    await admission.tenant('b1');
    expect(reads).toHaveBeenCalledTimes(4);
  });
});
