import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';

/**
 * The launcher compares numbers, strings, binaries and booleans without moto's generic cast
 * (cli/local/moto_serialized_server.py, point 18); every comparison must answer as moto's own does.
 * Run by the emulator's Python with the launcher imported (its patches applied, its server not
 * started): it compares the launcher's equality, order, hash and cast with moto's originals, kept by
 * the launcher, over every pair of a corpus of attribute values of every type, and prints what
 * differed as JSON.
 */
const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher
from moto.dynamodb.models.dynamo_type import DynamoType

corpus = [
    {"N": "0"}, {"N": "-0"}, {"N": "0.0"}, {"N": "1"}, {"N": "01"}, {"N": "1.0"}, {"N": "10"},
    {"N": "9"}, {"N": "-1"}, {"N": "-10"}, {"N": "1e3"}, {"N": "1000"}, {"N": "0.1"}, {"N": "0.10"},
    {"N": "1765000000000"}, {"N": "1765000000001"}, {"N": "12345678901234567890123456789012345678"},
    {"N": "-1E-130"}, {"N": "not a number"},
    {"S": ""}, {"S": "a"}, {"S": "b"}, {"S": "A"}, {"S": "aa"}, {"S": "1"}, {"S": "tenant/x/run-index"},
    {"S": "é"}, {"S": "\u00ff"}, {"S": "\U0001F600"},
    {"B": "YQ=="}, {"B": "Yg=="}, {"B": ""},
    {"BOOL": True}, {"BOOL": False}, {"NULL": True},
    {"SS": ["a", "b"]}, {"SS": ["b", "a"]}, {"NS": ["1", "1.0"]}, {"NS": ["2"]}, {"BS": ["YQ=="]},
    {"L": [{"S": "a"}, {"N": "1"}]}, {"L": [{"S": "a"}, {"N": "1.0"}]}, {"L": []},
    {"M": {"k": {"S": "v"}}}, {"M": {"k": {"N": "1"}}}, {"M": {"k": {"N": "1.00"}}}, {"M": {}},
]

def outcome(compute):
    try:
        return ["value", compute()]
    except Exception as error:
        return ["raises", type(error).__name__]

# moto's own comparisons, as its source states them, on moto's own cast.
cast = launcher._generic_cast_value

def generic_hash(value):
    return hash((value.type, cast(value)))

def generic_eq(left, right):
    return left.type == right.type and cast(left) == cast(right)

def generic_lt(left, right):
    return cast(left) < cast(right)

differences = []
pairs = 0
for left_json in corpus:
    left = DynamoType(left_json)
    for compute, generic, name in (
        (lambda: left.cast_value, lambda: launcher._generic_cast_value(left), "cast"),
        (lambda: hash(left), lambda: generic_hash(left), "hash"),
    ):
        if outcome(compute) != outcome(generic):
            differences.append([name, left_json])
    for right_json in corpus:
        right = DynamoType(right_json)
        pairs += 1
        for compute, generic, name in (
            (lambda: left == right, lambda: generic_eq(left, right), "=="),
            (lambda: left != right, lambda: left.type != right.type or cast(left) != cast(right), "!="),
            (lambda: left < right, lambda: generic_lt(left, right), "<"),
            (lambda: left <= right, lambda: cast(left) <= cast(right), "<="),
        ):
            if outcome(compute) != outcome(generic):
                differences.append([name, left_json, right_json])

# A partition of numbered keys, in the order moto's Query sorts it.
keys = [DynamoType({"N": str(number)}) for number in (5, -3, 10, 2.5, 0, 1e3, 7, -0.5)]
patched_order = [key.value for key in sorted(keys)]
generic_order = [key.value for key in sorted(keys, key=cast)]
print(json.dumps({
    "patched": DynamoType.__eq__ is launcher._eq
    and DynamoType.__lt__ is launcher._lt
    and DynamoType.cast_value.fget is launcher._cast_value,
    "pairs": pairs,
    "differences": differences,
    "sortedAlike": patched_order == generic_order,
}))
`;

describe('the emulator launcher', () => {
  it('compares attribute values of every type as moto does, over every pair of a corpus', () => {
    expect(runLauncherScript<Record<string, unknown>>(script)).toEqual({
      patched: true,
      pairs: 47 * 47,
      differences: [],
      sortedAlike: true,
    });
  });
});
