import type { BoundRoute } from '../../functions/shared/http/bound-route.ts';
import { createJwtVerifier } from '../../functions/shared/auth/jwt-verifier.ts';
import { createHttpApp } from '../../functions/shared/http/http-app.ts';
import { createTelemetry } from '../../functions/shared/observability/telemetry.ts';
import { InMemoryTenantDirectory } from '../../functions/shared/tenancy/adapters/in-memory-tenant-directory.ts';
import { admissionOver } from './recording-admission.ts';
import { createTestAuth } from './test-auth.ts';

/**
 * The HTTP core of an in-memory node for administration route tests: a test signer, a tenant
 * directory holding `operator` (the operator tenant) and `acme`, an admission over it, and `appOf`,
 * which serves routes behind the real routing, token checks, scopes and validation.
 */
export async function adminHttpCore() {
  const auth = await createTestAuth();
  const directory = new InMemoryTenantDirectory();
  for (const tenantId of ['operator', 'acme'])
    await directory.createTenant({ tenant_id: tenantId }, { by: 'seed', at: new Date() });
  const admission = admissionOver(directory);
  const appOf = (routes: BoundRoute[]) =>
    createHttpApp({
      service: 'agent-orchestrator',
      operatorTenantId: 'operator',
      routes,
      verifier: createJwtVerifier({
        issuers: [{ issuer: auth.issuer, jwks: { kind: 'inline', jwks: auth.jwks } }],
        audience: auth.audience,
        maxLifetimeSeconds: 86_400,
      }),
      admission,
      telemetry: createTelemetry('agent-orchestrator'),
      maxBodyBytes: 64 * 1024,
    });
  return { auth, directory, admission, appOf };
}
