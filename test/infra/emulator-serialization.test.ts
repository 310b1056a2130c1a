import {
  BatchGetItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';
import { emulatorTable } from '../support/emulator-table.ts';

/**
 * The launcher writes DynamoDB attribute values without moto's generic shape walk
 * (cli/local/moto_serialized_server.py, point 15). Two proofs: the answer bodies are byte for byte
 * what moto's own walk writes, over a generated corpus of results; and every attribute type comes
 * back from every read an SDK client makes as it was written.
 */

/**
 * Serializes each generated result twice, with the launcher's serializer and with moto's own walk,
 * and prints what it compared as JSON. Run by the emulator's Python with the launcher imported (its
 * patches applied, its server not started).
 */
const differentialCheck = String.raw`
import json, random, sys
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher
from moto.core import serialize
from moto.core.responses import get_service_model

model = get_service_model("dynamodb")
rng = random.Random(20261206)
fast_taken = [0]
attribute_value = launcher._attribute_value
def counted(self, value, shape):
    written = attribute_value(self, value, shape)
    if written is not None:
        fast_taken[0] += 1
    return written
launcher._attribute_value = counted

def scalar():
    kind = rng.choice(["S", "N", "B", "Bbytes", "BOOL", "NULL", "SS", "NS", "BS", "Sempty", "odd"])
    if kind == "S": return {"S": "".join(rng.choice("aé\u2603\"\\/x\n") for _ in range(rng.randint(1, 12)))}
    if kind == "Sempty": return {"S": ""}
    if kind == "N": return {"N": str(rng.randint(-10**12, 10**12))}
    if kind == "B": return {"B": "aGVsbG8="}
    if kind == "Bbytes": return {"B": bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 9)))}
    if kind == "BOOL": return {"BOOL": rng.random() < 0.5}
    if kind == "NULL": return {"NULL": True}
    if kind == "SS": return {"SS": ["a", "b", "c"][: rng.randint(1, 3)]}
    if kind == "NS": return {"NS": ["1", "2.5", "-3"][: rng.randint(1, 3)]}
    if kind == "BS": return {"BS": [b"\x00\x01", "aGk="][: rng.randint(1, 2)]}
    # Shapes only moto's walk handles: a name outside AttributeValue, a member set to None.
    return rng.choice([{"S": "x", "Extra": 1}, {"S": None, "N": "1"}, {}, {"s": "lower"}])

def attribute(depth):
    if depth >= 4 or rng.random() < 0.55:
        return scalar()
    if rng.random() < 0.5:
        entries = {f"k{index}": attribute(depth + 1) for index in range(rng.randint(0, 4))}
        if rng.random() < 0.1: entries["gone"] = None
        # moto's walk writes an entry under the empty name into the map itself.
        if rng.random() < 0.1: entries[""] = attribute(depth + 1)
        if rng.random() < 0.05: entries["odd"] = "not an attribute value"
        return {"M": entries}
    items = [attribute(depth + 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.1: items.append(None)
    return {"L": items}

def item():
    attributes = {f"a{index}": attribute(0) for index in range(rng.randint(1, 6))}
    if rng.random() < 0.1: attributes[""] = attribute(0)
    return attributes

def results():
    for _ in range(150):
        yield "GetItem", {"Item": item()}
        yield "UpdateItem", {"Attributes": item()}
        yield "Query", {"Items": [item() for _ in range(rng.randint(0, 3))], "Count": 2, "ScannedCount": 2,
                        "LastEvaluatedKey": {"pk": {"S": "p"}, "sk": {"N": "3"}}}
        yield "Scan", {"Items": [item()], "Count": 1, "ScannedCount": 1}
        yield "BatchGetItem", {"Responses": {"t": [item(), item()]}, "UnprocessedKeys": {}}
        yield "TransactGetItems", {"Responses": [{"Item": item()}, {}]}

def answer(operation, result):
    serializer = serialize.JSONSerializer(
        model.operation_model(operation), value_picker=serialize.XFormedAttributePicker(response_transformers={})
    )
    try:
        return serializer.serialize(result)["body"]
    except Exception as error:
        return f"raised {type(error).__name__}: {error}"

compared, mismatches = 0, []
for operation, result in results():
    fast = answer(operation, result)
    serialize.BaseJSONSerializer._serialize_type_structure = launcher._serialize_structure
    try:
        walked = answer(operation, result)
    finally:
        serialize.BaseJSONSerializer._serialize_type_structure = launcher._serialize_structure_fast
    compared += 1
    if fast != walked:
        mismatches.append({"operation": operation, "fast": fast[:400], "walked": walked[:400]})
print(json.dumps({"compared": compared, "fastTaken": fast_taken[0], "mismatches": mismatches[:3]}))
`;

const table = 'attribute-types';
const emulator = emulatorTable(table);
const dynamo = () => emulator.dynamo();

const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
const everyType: Record<string, AttributeValue> = {
  pk: { S: 'types' },
  text: { S: 'é ☃ "quoted" \\ /' },
  empty: { S: '' },
  number: { N: '-12.5' },
  binary: { B: bytes },
  strings: { SS: ['a', 'b'] },
  numbers: { NS: ['1', '2'] },
  binaries: { BS: [bytes, new Uint8Array([7])] },
  yes: { BOOL: true },
  no: { BOOL: false },
  nothing: { NULL: true },
  nested: {
    M: {
      list: {
        L: [{ S: 'x' }, { N: '3' }, { B: bytes }, { M: { deep: { L: [{ BOOL: false }, { NULL: true }] } } }],
      },
      emptyMap: { M: {} },
      emptyList: { L: [] },
    },
  },
};

/** Sets come back in no fixed order; everything else exactly. */
function normalised(item: Record<string, AttributeValue> | undefined): unknown {
  return JSON.parse(
    JSON.stringify(item ?? {}, (_, value: unknown) =>
      value instanceof Uint8Array ? Array.from(value) : value,
    ),
    (key, value: unknown) =>
      ['SS', 'NS', 'BS'].includes(key) && Array.isArray(value) ? [...value].map(String).sort() : value,
  );
}

describe('the emulator launcher', () => {
  it('writes attribute values byte for byte as moto walks them, over a generated corpus', () => {
    const outcome = runLauncherScript<{ compared: number; fastTaken: number; mismatches: unknown[] }>(
      differentialCheck,
    );
    expect(outcome.mismatches).toEqual([]);
    expect(outcome.compared).toBe(900);
    // The corpus went through the fast path, not only around it.
    expect(outcome.fastTaken).toBeGreaterThan(1000);
  });

  it('returns every attribute type as written, from every read', async () => {
    await dynamo().send(new PutItemCommand({ TableName: table, Item: everyType }));
    const key = { pk: { S: 'types' } };
    const read = {
      get: (await dynamo().send(new GetItemCommand({ TableName: table, Key: key }))).Item,
      query: (
        await dynamo().send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: 'types' } },
          }),
        )
      ).Items?.[0],
      scan: (await dynamo().send(new ScanCommand({ TableName: table }))).Items?.[0],
      batch: (await dynamo().send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: [key] } } })))
        .Responses?.[table]?.[0],
      transact: (
        await dynamo().send(
          new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: table, Key: key } }] }),
        )
      ).Responses?.[0]?.Item,
      updated: (
        await dynamo().send(
          new UpdateItemCommand({
            TableName: table,
            Key: key,
            UpdateExpression: 'SET touched = :t',
            ExpressionAttributeValues: { ':t': { BOOL: false } },
            ReturnValues: 'ALL_OLD',
          }),
        )
      ).Attributes,
    };
    const expected = normalised(everyType);
    expect(normalised(read.get)).toEqual(expected);
    expect(normalised(read.query)).toEqual(expected);
    expect(normalised(read.scan)).toEqual(expected);
    expect(normalised(read.batch)).toEqual(expected);
    expect(normalised(read.transact)).toEqual(expected);
    expect(normalised(read.updated)).toEqual(expected);
  });
});
