import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { InMemoryRunStateStore } from '../../../functions/orchestrator/adapters/in-memory/in-memory-run-state.ts';
import { principalRoutes } from '../../../functions/orchestrator/api/principal-api.ts';
import { principalHandlers } from '../../../functions/orchestrator/api/principal-handlers.ts';
import { tenantAdminRoutes } from '../../../functions/orchestrator/api/tenant-admin-api.ts';
import { tenantAdminHandlers } from '../../../functions/orchestrator/api/tenant-admin-handlers.ts';
import { createRunStopper } from '../../../functions/orchestrator/runtime/run-stopper.ts';
import { bindRoutes } from '../../../functions/shared/http/bound-route.ts';
import { maxDisabledPrincipals } from '../../../functions/shared/tenancy/tenant-records.ts';
import { adminHttpCore } from '../../support/admin-http.ts';

/** The administration routes behind the real HTTP core (routing, scopes, validation), in memory. */
async function adminApp() {
  const { auth, directory, admission, appOf } = await adminHttpCore();
  const runs = new InMemoryRunStateStore();
  const now = () => new Date();
  const stopper = createRunStopper({
    runs,
    sink: { publish: async () => undefined },
    reportFailure: () => undefined,
    now,
    audit: () => undefined,
  });
  const app = appOf(
    bindRoutes([...tenantAdminRoutes, ...principalRoutes], {
      ...tenantAdminHandlers({ directory, admission, runs, stopper, now, operatorTenantId: 'operator' }),
      ...principalHandlers({
        directory,
        admission,
        issuer: () => auth.tokens as never,
        maxTokenLifetimeSeconds: 3600,
        now,
      }),
    }),
  );
  const call = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const response = await app.fetch(
      new Request(`http://node.test${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    return {
      status: response.status,
      etag: response.headers.get('etag'),
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  return { auth, directory, call };
}

describe('the administration routes over HTTP', () => {
  it('serve an operator of the operator tenant and refuse everyone else', async () => {
    const { auth, call } = await adminApp();
    const operator = await auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    const member = await auth.token('acme');
    const outsider = await auth.token('acme', { scopes: ['operator'] });

    expect((await call('POST', '/v1/admin/tenants', member, { tenant_id: 'globex' })).status).toBe(403);
    expect((await call('POST', '/v1/admin/tenants', outsider, { tenant_id: 'globex' })).status).toBe(403);
    expect((await call('POST', '/v1/admin/tenants', operator, { tenant_id: 'globex' })).status).toBe(201);
    expect((await call('GET', '/v1/admin/tenants/Not_A_Tenant!', operator)).status).toBe(404);
    const disabled = await call('POST', '/v1/admin/tenants/globex:disable', operator, { reason: 'test' });
    expect(disabled).toMatchObject({ status: 200, body: { status: 'disabled', stopped_runs: [] } });
    expect((await call('POST', '/v1/admin/tenants/globex:enable', operator)).body).toMatchObject({
      status: 'active',
    });
    const runs = await call('GET', '/v1/admin/tenants/acme/runs?status=running', operator);
    expect(runs).toMatchObject({ status: 200, body: { object: 'list', data: [] } });
  });

  it('refuse a stop request that names runs and all at once, or neither', async () => {
    const { auth, call } = await adminApp();
    const operator = await auth.token('operator', { subject: 'ops', scopes: ['operator'] });
    const both = await call('POST', '/v1/admin/tenants/acme/runs:stop', operator, {
      run_ids: ['run_0123456789abcdefghijklmnop'],
      all: true,
      reason: 'x',
    });
    expect(both.status).toBe(400);
    const neither = await call('POST', '/v1/admin/tenants/acme/runs:stop', operator, { reason: 'x' });
    expect(neither.status).toBe(400);
    const ok = await call('POST', '/v1/admin/tenants/acme/runs:stop', operator, { all: true, reason: 'x' });
    expect(ok).toMatchObject({ status: 200, body: { object: 'run_stop', stopped: [] } });
  });

  it('let a tenant admin issue a token that works, within the principal scopes only', async () => {
    const { auth, call } = await adminApp();
    const admin = await auth.token('acme', { subject: 'root', scopes: ['tenant:admin', 'runs:read'] });
    expect(
      (await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read', 'tenant:admin'] }))
        .status,
    ).toBe(200);
    const issued = await call('POST', '/v1/tenant/principals/bot/tokens', admin, { ttl_seconds: 600 });
    expect(issued).toMatchObject({
      status: 201,
      body: { principal_id: 'bot', scopes: ['runs:read', 'tenant:admin'] },
    });
    const token = String(issued.body['token']);
    expect((await call('GET', '/v1/tenant/tokens', token)).body).toMatchObject({
      data: [{ token_id: issued.body['token_id'], issued_by: 'root' }],
    });
    expect(decodeJwt(token)).toMatchObject({ sub: 'bot', issued_by: 'root' });
    expect((await call('PUT', '/v1/tenant/principals/bot2', admin, { scopes: ['operator'] })).status).toBe(
      403,
    );
    const member = await auth.token('acme');
    expect((await call('GET', '/v1/tenant/principals', member)).status).toBe(403);
  });

  it('keep a disabled principal disabled when it is replaced, until it is enabled', async () => {
    const { auth, call } = await adminApp();
    const admin = await auth.token('acme', { subject: 'root', scopes: ['tenant:admin', 'runs:read'] });
    expect((await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read'] })).status).toBe(
      200,
    );
    expect((await call('POST', '/v1/tenant/principals/bot:disable', admin)).body).toMatchObject({
      status: 'disabled',
    });
    const replaced = await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read'] });
    expect(replaced).toMatchObject({ status: 200, body: { status: 'disabled' } });
    expect((await call('POST', '/v1/tenant/principals/bot/tokens', admin, {})).status).toBe(409);
    expect((await call('POST', '/v1/tenant/principals/bot:enable', admin)).body).toMatchObject({
      status: 'active',
    });
    expect((await call('POST', '/v1/tenant/principals/bot/tokens', admin, {})).status).toBe(201);
  });

  it('refuse a principal write whose If-Match or expected_version names a version it moved on from', async () => {
    const { auth, call } = await adminApp();
    const admin = await auth.token('acme', { subject: 'root', scopes: ['tenant:admin', 'runs:read'] });
    const created = await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read'] });
    expect(created).toMatchObject({ status: 200, etag: '"1"', body: { version: 1 } });
    const first = await call(
      'PUT',
      '/v1/tenant/principals/bot',
      admin,
      { scopes: ['runs:read'] },
      {
        'if-match': '"1"',
      },
    );
    expect(first).toMatchObject({ status: 200, etag: '"2"' });
    const stale = await call(
      'PUT',
      '/v1/tenant/principals/bot',
      admin,
      { scopes: ['tenant:admin'] },
      {
        'if-match': '"1"',
      },
    );
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    const staleBody = await call('PUT', '/v1/tenant/principals/bot', admin, {
      scopes: ['tenant:admin'],
      expected_version: 1,
    });
    expect(staleBody.status).toBe(409);
    expect(await call('GET', '/v1/tenant/principals/bot', admin)).toMatchObject({
      etag: '"2"',
      body: { scopes: ['runs:read'] },
    });
  });

  it('returns 400 naming If-Match when the header names no version', async () => {
    const { auth, call } = await adminApp();
    const admin = await auth.token('acme', { subject: 'root', scopes: ['tenant:admin', 'runs:read'] });
    await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read'] });
    const garbled = await call(
      'PUT',
      '/v1/tenant/principals/bot',
      admin,
      { scopes: ['runs:read'] },
      { 'if-match': '"abc"' },
    );
    expect(garbled).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', details: { fields: [{ field: 'If-Match' }] } } },
    });
    expect(await call('GET', '/v1/tenant/principals/bot', admin)).toMatchObject({ etag: '"1"' });
  });

  it('returns 409 limit when the tenant has as many disabled principals as it may, until one is enabled', async () => {
    const { auth, directory, call } = await adminApp();
    const admin = await auth.token('acme', { subject: 'root', scopes: ['tenant:admin', 'runs:read'] });
    const seed = { by: 'seed', at: new Date() };
    for (let n = 0; n < maxDisabledPrincipals; n++) {
      await directory.putPrincipal('acme', `p${n}`, { type: 'service', scopes: ['runs:read'] }, seed);
      await directory.disablePrincipal('acme', `p${n}`, seed, Math.floor(Date.now() / 1000) + 60);
    }
    await call('PUT', '/v1/tenant/principals/bot', admin, { scopes: ['runs:read'] });

    const refused = await call('POST', '/v1/tenant/principals/bot:disable', admin);
    expect(refused).toMatchObject({
      status: 409,
      body: { error: { code: 'conflict', details: { reason: 'limit' } } },
    });
    expect(JSON.stringify(refused.body)).toMatch(/enable one of them again/);
    expect((await call('GET', '/v1/tenant/principals/bot', admin)).body).toMatchObject({ status: 'active' });

    expect((await call('POST', '/v1/tenant/principals/p0:enable', admin)).body).toMatchObject({
      status: 'active',
    });
    expect((await call('POST', '/v1/tenant/principals/bot:disable', admin)).body).toMatchObject({
      status: 'disabled',
    });
  });
});
