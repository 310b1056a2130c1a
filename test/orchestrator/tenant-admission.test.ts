import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../support/local-node-harness.ts';
import type { TestNode } from '../support/local-node-harness.ts';
import { testTenantDirectory } from '../support/test-tenants.ts';
import type { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';

/**
 * Ingress admission over real HTTP (HLD §5.2): the node reads tenants afresh on every request here
 * (`AGENTOS_TENANT_CACHE_SECONDS=0`), so a change shows on the next one; the cache time itself is
 * proven by the admission's unit tests.
 */
let node: TestNode;
let directory: DynamoTenantDirectory;
const stamp = () => ({ by: 'operator-test', at: new Date() });

async function call(url: string, token: string) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    body: (await response.json()) as {
      error?: { code: string; message: string; details?: { reason?: string } };
    },
  };
}

const runs = () => `${node.node.orchestratorUrl}/v1/runs`;
const models = () => `${node.node.modelPolicyUrl}/v1/models`;

beforeAll(async () => {
  node = await startTestNode({ functionEnv: { AGENTOS_TENANT_CACHE_SECONDS: '0' } });
  directory = testTenantDirectory(node.resources.tableName);
});

afterAll(async () => {
  await node.stop();
});

describe('ingress admission of tenants', () => {
  it('refuses a token of an unknown tenant with 401 and says how an operator registers it', async () => {
    const token = await node.auth.tokens.issue({
      tenantId: 'nobody-here',
      subject: 'alice',
      scopes: ['runs:read', 'models:read'],
      ttlSeconds: 600,
    });
    for (const url of [runs(), models()]) {
      const answer = await call(url, token);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatchObject({
        code: 'unauthorized',
        details: { reason: 'tenant_unknown' },
      });
      expect(answer.body.error?.message).toContain('agentos tenants create nobody-here');
    }
  });

  it('refuses a disabled tenant with 403 naming the reason, and accepts it again once re-enabled', async () => {
    const token = await node.auth.token('switched');
    expect((await call(runs(), token)).status).toBe(200);
    await directory.updateTenant(
      'switched',
      { status: 'disabled', disabled_reason: 'unpaid invoices' },
      stamp(),
    );
    for (const url of [runs(), models()]) {
      const answer = await call(url, token);
      expect(answer.status).toBe(403);
      expect(answer.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'tenant_disabled' } });
      expect(answer.body.error?.message).toContain('unpaid invoices');
    }
    await directory.updateTenant('switched', { status: 'active' }, stamp());
    expect((await call(runs(), token)).status).toBe(200);
    expect((await call(models(), token)).status).toBe(200);
  });

  it("refuses a revoked token with 401 and keeps accepting the tenant's other tokens", async () => {
    const revoked = await node.auth.token('revoking', { subject: 'alice' });
    const other = await node.auth.token('revoking', { subject: 'alice' });
    const claims = decodeJwt(revoked);
    await directory.recordToken({
      object: 'token',
      token_id: String(claims.jti),
      tenant_id: 'revoking',
      principal_id: 'alice',
      scopes: [],
      issued_at: new Date(Number(claims.iat) * 1000).toISOString(),
      expires_at: new Date(Number(claims.exp) * 1000).toISOString(),
      revoked_at: null,
      issued_by: 'root',
    });
    expect((await call(runs(), revoked)).status).toBe(200);
    await directory.revokeToken('revoking', String(claims.jti), stamp());
    const answer = await call(runs(), revoked);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({ code: 'unauthorized', details: { reason: 'token_revoked' } });
    expect((await call(runs(), other)).status).toBe(200);
  });

  it('refuses the tokens of a disabled principal with 401', async () => {
    const token = await node.auth.token('members', { subject: 'bot' });
    await directory.putPrincipal('members', 'bot', { type: 'service', scopes: ['runs:read'] }, stamp());
    const at = new Date(Date.now() + 1000);
    await directory.disablePrincipal(
      'members',
      'bot',
      { by: 'operator-test', at },
      Math.floor(at.getTime() / 1000) + 3600,
    );
    const answer = await call(runs(), token);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({
      code: 'unauthorized',
      details: { reason: 'principal_disabled' },
    });
    expect((await call(runs(), await node.auth.token('members', { subject: 'alice' }))).status).toBe(200);
  });

  it('refuses a token issued after a principal was disabled, until the principal is enabled again', async () => {
    await node.auth.token('rejoin', { subject: 'alice' });
    await directory.putPrincipal('rejoin', 'bot', { type: 'service', scopes: ['runs:read'] }, stamp());
    const at = new Date(Date.now() - 5000);
    await directory.disablePrincipal(
      'rejoin',
      'bot',
      { by: 'operator-test', at },
      Math.floor(at.getTime() / 1000),
    );
    const fresh = await node.auth.token('rejoin', { subject: 'bot' });
    const answer = await call(runs(), fresh);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({
      code: 'unauthorized',
      details: { reason: 'principal_disabled' },
    });
    await directory.enablePrincipal('rejoin', 'bot', stamp());
    expect((await call(runs(), fresh)).status).toBe(200);
  });
});
