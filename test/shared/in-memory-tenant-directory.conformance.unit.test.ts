import { InMemoryTenantDirectory } from '../../functions/shared/tenancy/adapters/in-memory-tenant-directory.ts';
import { tenantDirectoryPortConformance } from '../conformance/tenant-directory-port.case.ts';

tenantDirectoryPortConformance('in memory', async (options) => new InMemoryTenantDirectory(options));
