import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { tableDefinition } from '../resources/definitions.ts';

/** DynamoDB's attribute type letters, as definitions.ts spells them, to CDK's names. */
const attributeTypes = { S: AttributeType.STRING, N: AttributeType.NUMBER, B: AttributeType.BINARY } as const;

export type NodeTableProps = {
  /**
   * Absent on AWS: CloudFormation names the table, so a table retained by a deleted node never
   * blocks deploying that node again.
   */
  tableName?: string;
  /** Development nodes only: delete the table with the stack instead of retaining it. */
  destroyOnRemoval: boolean;
};

/** The node's single table, as `tableDefinition` describes it, with point-in-time recovery on. */
export class NodeTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: NodeTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      ...(props.tableName === undefined ? {} : { tableName: props.tableName }),
      partitionKey: {
        name: tableDefinition.partitionKey.name,
        type: attributeTypes[tableDefinition.partitionKey.type],
      },
      sortKey: { name: tableDefinition.sortKey.name, type: attributeTypes[tableDefinition.sortKey.type] },
      billingMode: BillingMode[tableDefinition.billingMode],
      timeToLiveAttribute: tableDefinition.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !props.destroyOnRemoval,
      removalPolicy: props.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}
