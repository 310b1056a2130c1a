import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';

/**
 * With a Limit, the launcher gives moto's Query only the items of the partition its walk reaches
 * (cli/local/moto_serialized_server.py, point 3); every answer must be the one moto gives reading the
 * whole partition. Run by the emulator's Python with the launcher imported (its patches applied, its
 * server not started): generated partitions, with numbers and with strings as sort keys, and
 * generated queries (key conditions, Limits, both directions, start keys, pages followed to their
 * end), each answered by the launcher and by moto's own Query; it prints what differed as JSON.
 */
const script = String.raw`
import json, random, sys
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
rng = random.Random(7)

def table_of(name, key_type):
    return backend.create_table(
        name,
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": key_type}],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )

def number_key():
    return {"N": rng.choice([str(rng.randint(-50, 50)), str(rng.randint(-500, 500) / 10), "1e1", "0.50"])}

def string_key():
    return {"S": "".join(rng.choice("ab/-Z0") for _ in range(rng.randint(0, 4)))}

def plain(value):
    if isinstance(value, DynamoType):
        return value.to_json()
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    return value

def answer(query, table, arguments):
    items, scanned, last = query(table, **arguments)
    return [[item.to_json() for item in items], scanned, plain(last)]

differences = []
queries = 0
for key_type, new_key in (("N", number_key), ("S", string_key)):
    table = table_of("walks-" + key_type, key_type)
    for partition in ("p0", "p1", "p2", "p3"):
        for _ in range(rng.choice([0, 1, 5, 40, 120])):
            key = new_key()
            backend.put_item(table.name, {"pk": {"S": partition}, "sk": key, "pad": {"S": "x" * rng.randint(0, 20)}})
    for _ in range(400):
        partition = rng.choice(["p0", "p1", "p2", "p3", "absent"])
        comparison = rng.choice([None, "LT", "LE", "GT", "GE", "EQ", "BETWEEN"] + (["BEGINS_WITH"] if key_type == "S" else []))
        bounds = sorted((new_key() for _ in range(2)), key=lambda value: DynamoType(value).cast_value)
        objs = [] if comparison is None else [DynamoType(bound) for bound in (bounds if comparison == "BETWEEN" else bounds[:1])]
        arguments = {
            "hash_key": DynamoType({"S": partition}),
            "range_comparison": comparison,
            "range_objs": objs,
            "limit": rng.choice([1, 2, 3, 7, 25, None]),
            "exclusive_start_key": None,
            "scan_index_forward": rng.choice([True, False, None]),
            "projection_expressions": None,
        }
        start = rng.random()
        if start < 0.2:
            arguments["exclusive_start_key"] = {"pk": {"S": partition}, "sk": new_key()}
        elif start < 0.25:
            arguments["exclusive_start_key"] = {"pk": {"S": "p1" if partition != "p1" else "p2"}, "sk": new_key()}
        # Each page, and the next one from its LastEvaluatedKey, to the end.
        for _page in range(60):
            queries += 1
            mine = answer(lambda table, **kw: table.query(**kw), table, arguments)
            moto = answer(launcher._original_query, table, arguments)
            if mine != moto:
                differences.append({"keys": key_type, "arguments": repr(plain(arguments)), "launcher": mine, "moto": moto})
                break
            if mine[2] is None:
                break
            arguments = {**arguments, "exclusive_start_key": plain(mine[2])}

# The walk reaches one past the Limit of a large partition, not the partition.
big = table_of("walks-big", "N")
for number in range(1000):
    backend.put_item(big.name, {"pk": {"S": "index"}, "sk": {"N": str(number)}})
reached = launcher._query_candidates(
    big,
    DynamoType({"S": "index"}),
    {"limit": 5, "scan_index_forward": False, "range_comparison": "LT", "range_objs": [DynamoType({"N": "500"})]},
)
# A large partition's key order is kept between Queries: items put, replaced and deleted meanwhile
# are answered as moto answers them.
def page_of(arguments):
    mine = answer(lambda table, **kw: table.query(**kw), big, arguments)
    moto = answer(launcher._original_query, big, arguments)
    return mine == moto
kept_alike = []
for change in range(40):
    arguments = {
        "hash_key": DynamoType({"S": "index"}),
        "range_comparison": rng.choice([None, "LT", "GE"]),
        "range_objs": [DynamoType({"N": str(rng.randint(-10, 1010))})],
        "limit": rng.choice([1, 5, 30]),
        "exclusive_start_key": None,
        "scan_index_forward": rng.choice([True, False]),
        "projection_expressions": None,
    }
    if arguments["range_comparison"] is None:
        arguments["range_objs"] = []
    kept_alike.append(page_of(arguments))
    number = str(rng.randint(-10, 1010))
    if change % 3 == 0:
        backend.put_item(big.name, {"pk": {"S": "index"}, "sk": {"N": number}, "v": {"S": "replaced" + str(change)}})
    elif change % 3 == 1:
        backend.delete_item(big.name, {"pk": {"S": "index"}, "sk": {"N": number}})
    else:
        backend.put_item(big.name, {"pk": {"S": "index"}, "sk": {"N": number + ".5"}})
    kept_alike.append(page_of(arguments))

print(json.dumps({
    "keptAlike": all(kept_alike),
    "keptOrders": len(launcher._key_orders),
    "queries": queries,
    "differences": differences[:3],
    "reached": [item.range_key.value for item in reached],
}))
`;

describe('the emulator launcher', () => {
  it('answers a Query with a Limit from the items its walk reaches, as moto answers it from the whole partition', () => {
    const seen = runLauncherScript<{
      queries: number;
      differences: unknown[];
      reached: string[];
      keptAlike: boolean;
      keptOrders: number;
    }>(script);
    expect(seen.differences).toEqual([]);
    expect(seen.keptAlike).toBe(true);
    expect(seen.keptOrders).toBe(1);
    expect(seen.queries).toBeGreaterThan(1_400);
    // From the bound (the one item at it matches nothing), five matches and the one after them.
    expect(seen.reached).toEqual(['500', '499', '498', '497', '496', '495', '494']);
  });
});
