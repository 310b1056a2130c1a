import type { SeenCall } from './aws-call-counter.ts';

/**
 * List prices (us-east-1, on-demand, USD) the cost model uses; model tokens are left out. Sources:
 * the AWS pricing pages of each service.
 */
export const listPrices = {
  /** REST API requests, first 333 million a month. */
  apiGatewayRestRequest: 3.5 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  /** x86, first 6 billion GB-s a month. */
  lambdaGbSecond: 0.0000166667,
  /** On-demand write and read request units (a transactional one counts twice). */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** FIFO queue requests, per 64 KB chunk. */
  sqsFifoRequest: 0.5 / 1e6,
  /** Standard workflow state transitions. */
  stepFunctionsTransition: 0.025 / 1000,
  /** Traces recorded. */
  xrayTraceRecorded: 5 / 1e6,
  /** CloudWatch Logs ingestion, per GB. */
  logsIngestedGb: 0.5,
} as const;

/** One run's use of each priced quantity. */
export type RunUsage = {
  apiRequests: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  writeUnits: number;
  readUnits: number;
  sqsRequests: number;
  stateTransitions: number;
  tracesRecorded: number;
  logBytes: number;
};

/** What one run costs, by line, in USD. */
export function runCost(usage: RunUsage): Record<string, number> {
  return {
    'API Gateway': usage.apiRequests * listPrices.apiGatewayRestRequest,
    'Lambda requests': usage.lambdaInvocations * listPrices.lambdaRequest,
    'Lambda GB-s': usage.lambdaGbSeconds * listPrices.lambdaGbSecond,
    'DynamoDB writes': usage.writeUnits * listPrices.dynamoWriteUnit,
    'DynamoDB reads': usage.readUnits * listPrices.dynamoReadUnit,
    SQS: usage.sqsRequests * listPrices.sqsFifoRequest,
    'Step Functions': usage.stateTransitions * listPrices.stepFunctionsTransition,
    'X-Ray': usage.tracesRecorded * listPrices.xrayTraceRecorded,
    'CloudWatch Logs': (usage.logBytes / 1024 ** 3) * listPrices.logsIngestedGb,
  };
}

type AttributeValue = {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  SS?: string[];
  NS?: string[];
};
type Item = Record<string, AttributeValue>;
type Key = { pk?: AttributeValue; sk?: AttributeValue };

/** An attribute value's size as DynamoDB bills it (names and values in UTF-8, numbers ~1 byte per 2 digits). */
function valueBytes(value: AttributeValue | undefined): number {
  if (value === undefined) return 0;
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return Math.ceil(value.N.length / 2) + 1;
  if (value.B !== undefined) return Math.ceil((value.B.length * 3) / 4);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length;
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + valueBytes(v) + 1, 0);
  if (value.SS !== undefined) return value.SS.reduce((sum, v) => sum + Buffer.byteLength(v, 'utf8'), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, v) => sum + Math.ceil(v.length / 2) + 1, 0);
  return 0;
}

function itemBytes(item: Item): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + valueBytes(value),
    0,
  );
}

function keyOf(key: Key | undefined): string {
  return `${key?.pk?.S ?? '?'}#${key?.sk?.N ?? key?.sk?.S ?? '?'}`;
}

type WriteOp = {
  Put?: { Item: Item };
  Update?: { Key: Key; ExpressionAttributeValues?: Item };
  Delete?: { Key: Key };
  ConditionCheck?: { Key: Key };
};

/**
 * DynamoDB request units of the calls, from their requests: a put costs its item's size, an update
 * the size of the item it changes (known from its put, grown by what the update sets; 1 KB when
 * never seen), a transactional write twice that; a consistent read 1 unit per 4 KB read (from the
 * answer's bytes), a batch read at least one per key.
 */
export function dynamoUnits(
  calls: readonly SeenCall[],
  byShape?: Map<string, number>,
  shapeOf: (pk: string) => string = (pk) => pk,
) {
  const sizes = new Map<string, number>();
  let writeUnits = 0;
  let readUnits = 0;
  const wcu = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
  const write = (op: WriteOp, factor = 1): number => {
    const units = factor * writeUnitsOf(op);
    const key =
      (op.Put?.Item as Key | undefined) ?? op.Update?.Key ?? op.Delete?.Key ?? op.ConditionCheck?.Key;
    const shape = `${Object.keys(op)[0] ?? '?'} ${shapeOf(key?.pk?.S ?? '?')}`;
    byShape?.set(shape, (byShape.get(shape) ?? 0) + units);
    return units;
  };
  const writeUnitsOf = (op: WriteOp): number => {
    if (op.Put !== undefined) {
      const bytes = itemBytes(op.Put.Item);
      sizes.set(keyOf(op.Put.Item as Key), bytes);
      return wcu(bytes);
    }
    if (op.Update !== undefined) {
      const key = keyOf(op.Update.Key);
      const set = itemBytes(op.Update.ExpressionAttributeValues ?? {});
      const bytes = Math.max(sizes.get(key) ?? 1024, set);
      sizes.set(key, bytes);
      return wcu(bytes);
    }
    if (op.Delete !== undefined) return wcu(sizes.get(keyOf(op.Delete.Key)) ?? 1024);
    return 1;
  };
  for (const call of calls) {
    const body = (call.body ?? {}) as {
      TransactItems?: WriteOp[];
      Item?: Item;
      Key?: Key;
      ExpressionAttributeValues?: Item;
      RequestItems?: Record<string, { Keys?: Key[] } | { PutRequest?: { Item: Item } }[]>;
    };
    switch (call.action) {
      case 'DynamoDB.TransactWriteItems':
        writeUnits += (body.TransactItems ?? []).reduce((sum, op) => sum + write(op, 2), 0);
        break;
      case 'DynamoDB.PutItem':
        writeUnits += write({ Put: { Item: body.Item ?? {} } });
        break;
      case 'DynamoDB.UpdateItem':
        writeUnits += write({
          Update: {
            Key: body.Key ?? {},
            ...(body.ExpressionAttributeValues && {
              ExpressionAttributeValues: body.ExpressionAttributeValues,
            }),
          },
        });
        break;
      case 'DynamoDB.DeleteItem':
        writeUnits += write({ Delete: { Key: body.Key ?? {} } });
        break;
      case 'DynamoDB.BatchWriteItem':
        for (const requests of Object.values(body.RequestItems ?? {}))
          if (Array.isArray(requests))
            for (const r of requests)
              writeUnits += r.PutRequest === undefined ? 1 : write({ Put: r.PutRequest });
        break;
      case 'DynamoDB.GetItem':
      case 'DynamoDB.Query':
      case 'DynamoDB.TransactGetItems':
        readUnits += Math.max(1, Math.ceil(call.responseBytes / 4096));
        break;
      case 'DynamoDB.BatchGetItem': {
        const keys = Object.values(body.RequestItems ?? {}).reduce(
          (sum, r) => sum + (Array.isArray(r) ? 0 : (r.Keys?.length ?? 0)),
          0,
        );
        readUnits += Math.max(keys, Math.ceil(call.responseBytes / 4096));
        break;
      }
      default:
        break;
    }
  }
  return { writeUnits, readUnits };
}
