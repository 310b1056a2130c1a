import { DynamoTenantDirectory } from '../../functions/shared/tenancy/adapters/dynamo-tenant-directory.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import { tenantDirectoryPortConformance } from '../conformance/tenant-directory-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../support/aws.ts';

const table = provisionTestNode('tenants').then(({ resources }) => resources.tableName);
tenantDirectoryPortConformance(
  'DynamoDB',
  async () => new DynamoTenantDirectory(createDocumentClient(testAwsConfig()), await table),
);
