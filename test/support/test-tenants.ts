import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { TenantDirectoryConflictError } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import type { TenantDirectoryPort } from '../../functions/shared/tenancy/tenant-directory-port.ts';
import type { TenantQuotas } from '../../functions/shared/tenancy/tenant-schemas.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { testAwsConfig } from './aws.ts';

/** Quotas no test reaches unless it means to: tests that are not about limits never hit one. */
export const generousQuotas: TenantQuotas = {
  runs_per_second: 10_000,
  run_burst: 100_000,
  max_concurrent_runs: 2_000,
  max_queued_runs: 3_000,
  tool_calls_per_minute: 1_000_000,
  max_sse_connections: 5_000,
  model_requests_per_second: 10_000,
  model_request_burst: 100_000,
};

/** Registers a tenant once (later calls for it resolve at once; one registered elsewhere is kept). */
export type TenantRegistrar = (tenantId: string) => Promise<void>;

/** A registrar over `directory`, registering tenants with {@link generousQuotas}. */
export function tenantRegistrar(directory: TenantDirectoryPort): TenantRegistrar {
  const registered = new Map<string, Promise<void>>();
  return (tenantId) => {
    let pending = registered.get(tenantId);
    if (pending === undefined) {
      pending = directory
        .createTenant({ tenant_id: tenantId, quotas: generousQuotas }, { by: 'test', at: new Date() })
        .then(
          () => undefined,
          (error: unknown) => {
            if (error instanceof TenantDirectoryConflictError && error.reason === 'exists') return;
            registered.delete(tenantId);
            throw error;
          },
        );
      registered.set(tenantId, pending);
    }
    return pending;
  };
}

/** The directory of a test node's table. */
export function testTenantDirectory(tableName: string): DynamoTenantDirectory {
  return new DynamoTenantDirectory(createDocumentClient(testAwsConfig()), tableName);
}
