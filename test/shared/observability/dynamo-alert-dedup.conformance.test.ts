import { DynamoAlertDedup } from '../../../functions/shared/observability/adapters/dynamo-alert-dedup.ts';
import { createDocumentClient } from '../../../functions/shared/storage/dynamo-client.ts';
import { alertDedupPortConformance } from '../../conformance/alert-dedup-port.case.ts';
import { provisionTestNode, testAwsConfig } from '../../support/aws.ts';

const table = provisionTestNode('alerts').then(({ resources }) => resources.tableName);
const client = createDocumentClient(testAwsConfig());

alertDedupPortConformance('DynamoDB', async () => new DynamoAlertDedup(client, await table));
