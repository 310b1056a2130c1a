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

def binary_key():
    return {"B": "".join(rng.choice("AQgw") for _ in range(rng.randint(1, 3))) + "=="}

def any_key():
    return rng.choice([number_key, string_key, binary_key])()

def plain(value):
    if isinstance(value, DynamoType):
        return value.to_json()
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    return value

def answer(query, table, arguments):
    try:
        items, scanned, last = query(table, **arguments)
    except Exception as error:
        return ["raises", type(error).__name__]
    return [[item.to_json() for item in items], scanned, plain(last)]

# How many Queries the launcher answered from the items its walk reached, not the whole partition.
walked = [0]
candidates_of = launcher._query_candidates
def counting_candidates(*args):
    reached = candidates_of(*args)
    walked[0] += reached is not None
    return reached
launcher._query_candidates = counting_candidates

# The key conditions as the request parser names them, and as the legacy KeyConditions do.
comparisons = [None, "<", "<=", ">", ">=", "=", "BETWEEN", "LT", "LE", "GT", "GE", "EQ"]
differences = []
queries = 0
for key_type, new_key in (("N", number_key), ("S", string_key), ("B", binary_key)):
    table = table_of("walks-" + key_type, key_type)
    for partition in ("p0", "p1", "p2", "p3"):
        for _ in range(rng.choice([0, 1, 5, 40, 120])):
            key = new_key()
            backend.put_item(table.name, {"pk": {"S": partition}, "sk": key, "pad": {"S": "x" * rng.randint(0, 20)}})
    for _ in range(300):
        partition = rng.choice(["p0", "p1", "p2", "p3", "absent"])
        comparison = rng.choice(comparisons + (["BEGINS_WITH"] if key_type == "S" else []))
        # Now and then a value of another type, or a count the condition does not take.
        value_of = any_key if rng.random() < 0.1 else new_key
        bounds = sorted((new_key() for _ in range(2)), key=lambda value: DynamoType(value).cast_value)
        count = 2 if comparison == "BETWEEN" else 1
        if rng.random() < 0.05:
            count = 3 - count
        values = [value_of() for _ in range(count)] if value_of is any_key else (bounds * 2)[:count]
        arguments = {
            "hash_key": DynamoType({"S": partition}),
            "range_comparison": comparison,
            "range_objs": [] if comparison is None else [DynamoType(value) for value in values],
            "limit": rng.choice([1, 2, 3, 7, 25, None]),
            "exclusive_start_key": None,
            "scan_index_forward": rng.choice([True, False, None, True, False, 0]),
            "projection_expressions": None,
        }
        start = rng.random()
        if start < 0.2:
            arguments["exclusive_start_key"] = {"pk": {"S": partition}, "sk": new_key()}
        elif start < 0.23:
            arguments["exclusive_start_key"] = {"pk": {"S": partition}, "sk": any_key()}
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
            if mine[0] == "raises" or mine[2] is None:
                break
            arguments = {**arguments, "exclusive_start_key": plain(mine[2])}

# Edges a generated query seldom meets: a start key or a value of another type whose cast equals a
# key's (a string and a binary, a boolean and a number), and a condition given more values than it
# takes, with a bound past every key.
edges = {"N": table_of("edges-N", "N"), "B": table_of("edges-B", "B")}
for number in range(1, 6):
    backend.put_item("edges-N", {"pk": {"S": "e"}, "sk": {"N": str(number)}})
for text in ("AQ==", "Ag==", "Aw=="):
    backend.put_item("edges-B", {"pk": {"S": "e"}, "sk": {"B": text}})
def edge(key_type, comparison, values, forward, start=None):
    return key_type, {
        "hash_key": DynamoType({"S": "e"}),
        "range_comparison": comparison,
        "range_objs": [DynamoType(value) for value in values],
        "limit": 2,
        "exclusive_start_key": None if start is None else {"pk": {"S": "e"}, "sk": start},
        "scan_index_forward": forward,
        "projection_expressions": None,
    }
for key_type, arguments in (
    edge("B", None, [], True, {"S": "Ag=="}),
    edge("B", None, [], False, {"S": "Ag=="}),
    edge("N", None, [], True, {"BOOL": True}),
    edge("N", None, [], False, {"BOOL": True}),
    edge("B", ">=", [{"S": "Ag=="}], True),
    edge("B", "<", [{"S": "Ag=="}], False),
    edge("N", "=", [{"N": "1000"}, {"N": "1"}], False),
    edge("N", "<=", [{"N": "-5"}, {"N": "3"}], True),
    edge("N", "BETWEEN", [{"N": "1000"}], False),
    edge("N", "BETWEEN", [{"S": "a"}, {"N": "0"}], False),
):
    queries += 1
    mine = answer(lambda table, **kw: table.query(**kw), edges[key_type], arguments)
    moto = answer(launcher._original_query, edges[key_type], arguments)
    if mine != moto:
        differences.append({"keys": key_type, "arguments": repr(plain(arguments)), "launcher": mine, "moto": moto})

# The walk reaches one past the Limit of a large partition, not the partition.
big = table_of("walks-big", "N")
for number in range(1000):
    backend.put_item(big.name, {"pk": {"S": "index"}, "sk": {"N": str(number)}})
reached = launcher._query_candidates(
    big,
    DynamoType({"S": "index"}),
    {"limit": 5, "scan_index_forward": False, "range_comparison": "<", "range_objs": [DynamoType({"N": "500"})]},
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
        "range_comparison": rng.choice([None, "<", ">="]),
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

# A key put inside a page's window between two reads of it is in the second, though the
# partition's key order was kept from the first.
for number in range(300):
    backend.put_item(big.name, {"pk": {"S": "window"}, "sk": {"N": str(number)}})
window = {
    "hash_key": DynamoType({"S": "window"}),
    "range_comparison": ">=",
    "range_objs": [DynamoType({"N": "100"})],
    "limit": 3,
    "exclusive_start_key": None,
    "scan_index_forward": True,
    "projection_expressions": None,
}
def window_keys():
    items, _scanned, _last = big.query(**window)
    return [item.attrs["sk"].value for item in items]
before_put = window_keys()
backend.put_item(big.name, {"pk": {"S": "window"}, "sk": {"N": "100.25"}})
after_put = window_keys()
backend.delete_item(big.name, {"pk": {"S": "window"}, "sk": {"N": "100"}})
after_delete = window_keys()

print(json.dumps({
    "window": [before_put, after_put, after_delete],
    "walkedShare": walked[0] / queries,
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
      walkedShare: number;
      window: string[][];
      keptOrders: number;
    }>(script);
    expect(seen.differences).toEqual([]);
    // Many of them answered from the walk (the others have no Limit, or a start key it does not take:
    // no boolean ScanIndexForward, or another partition or type).
    expect(seen.walkedShare).toBeGreaterThan(0.25);
    expect(seen.window).toEqual([
      ['100', '101', '102'],
      ['100', '100.25', '101'],
      ['100.25', '101', '102'],
    ]);
    expect(seen.keptAlike).toBe(true);
    expect(seen.keptOrders).toBe(2);
    expect(seen.queries).toBeGreaterThan(1_200);
    // From the bound (the one item at it matches nothing), five matches and the one after them.
    expect(seen.reached).toEqual(['500', '499', '498', '497', '496', '495', '494']);
  });
});
