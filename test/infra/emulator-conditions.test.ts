import { ConditionalCheckFailedException, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { runLauncherScript } from '../support/launcher-script.ts';
import { emulatorTable } from '../support/emulator-table.ts';

/**
 * The launcher parses a condition expression once per text and placeholders, and fills each call's
 * names and values into a copy of that parse (cli/local/moto_serialized_server.py, point 16). Two
 * proofs: over a generated corpus, every call parses to what moto's own parse gives (the same tree,
 * the same names and values found, the same verdict on every item, the same error); and over the
 * wire, one expression text sent with other names or values each time decides by each call's own.
 */

/**
 * Parses and evaluates each generated call twice, with the launcher's parse and with moto's own,
 * and prints what it compared as JSON. Run by the emulator's Python with the launcher imported (its
 * patches applied, its server not started).
 */
const differentialCheck = String.raw`
import json, random, sys
sys.path.insert(0, sys.argv[1])
import moto_serialized_server as launcher
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType, Item

rng = random.Random(20261206)

DEEP = "(" * 70 + "#s = :v" + " OR #n = :n)" * 70
EXPRESSIONS = [
    # What AgentOS sends: conditions of its writes, and its query filters.
    "attribute_not_exists(pk)",
    "attribute_not_exists(tat) OR tat < :now",
    "tat >= :now AND tat <= :highest",
    "attribute_not_exists(pk) OR (attribute_not_exists(#m) AND (#n < :lo OR (#s = :v AND #n < :hi)))",
    "attribute_exists(m.#k) OR (attribute_exists(#m) AND size(#m) < :n)",
    "(attribute_not_exists(#s) OR #s = :v) AND (attribute_not_exists(#n) OR #n < :hi)",
    "#s IN (:v)",
    "#s IN (:x, :y, :v)",
    "attribute_exists(#s) AND #s = :v",
    # The rest of the grammar.
    "#n BETWEEN :lo AND :hi",
    "begins_with(#s, :p)",
    "contains(#l, :v)",
    "size(#l) > :n",
    "attribute_type(#s, :t)",
    "NOT (#s = :v)",
    "NOT contains(#l, :v)",
    "(#n < :hi OR #s <> :v) AND attribute_exists(m.k[0])",
    "m.k[0] = :v OR #m.#k[1] = :w",
    "#n = :n AND #n <= :hi AND #n >= :lo AND #n <> :x",
    DEEP,
    # Calls moto refuses: a value or name not given, bad syntax, a reserved word as a name.
    "#s = :missing",
    "#missing = :v",
    "#s = = :v",
    "#s = :v AND",
    "status = :v",
    "((#s = :v))",
]
NAMES = {"#s": "state", "#n": "count", "#l": "tags", "#m": "m", "#k": "k"}

KINDS = ["S", "N", "BOOL", "NULL", "L", "M", "SS", "NS"]
# Each placeholder mostly keeps one type, as an application's calls do; now and then another.
USUAL = {":now": "N", ":highest": "N", ":v": "S", ":x": "S", ":y": "N", ":lo": "N", ":hi": "N", ":p": "S", ":n": "N", ":t": "S", ":w": "L"}

def value(kind=None):
    kind = kind or rng.choice(KINDS)
    if kind == "S": return {"S": rng.choice(["open", "done", "op", "S", "N", "L"])}
    if kind == "N": return {"N": str(rng.randint(-3, 9))}
    if kind == "BOOL": return {"BOOL": rng.random() < 0.5}
    if kind == "NULL": return {"NULL": True}
    if kind == "L": return {"L": [{"S": "a"}, {"N": str(rng.randint(0, 3))}][: rng.randint(0, 2)]}
    if kind == "M": return {"M": {"k": {"L": [{"S": "open"}]}}}
    if kind == "SS": return {"SS": ["open", "a"][: rng.randint(1, 2)]}
    return {"NS": ["1", "2"][: rng.randint(1, 2)]}

def item():
    attributes = {"pk": {"S": "p"}}
    for name in ["state", "count", "tags", "m", "tat"]:
        if rng.random() < 0.7:
            attributes[name] = value()
    return Item(DynamoType({"S": "p"}), None, attributes)

def tree(node):
    """The operator tree as plain data (moto's repr fails on list indexes in paths)."""
    if isinstance(node, (list, tuple)):
        return [tree(child) for child in node]
    if hasattr(node, "__dict__"):
        return [type(node).__name__, {name: tree(member) for name, member in sorted(vars(node).items())}]
    return repr(node)

def outcome(call, items, parse):
    """Parses the call; then a function that evaluates it on every item and says what came out."""
    parser = ConditionExpressionParser(*call)
    try:
        op = parse(parser)
    except Exception as error:
        refused = ["raised", type(error).__name__, str(error)]
        return lambda: refused
    found = (list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
    def verdicts():
        seen = []
        for each in items:
            try:
                seen.append(op.expr(each))
            except Exception as error:
                seen.append(["raised", type(error).__name__, str(error)])
        return [tree(op), found, seen]
    return verdicts

def names():
    roll = rng.random()
    if roll < 0.05: return None
    if roll < 0.1: return {"#s": "other", "#n": "count", "#l": "tags"}
    # The same placeholders naming other attributes, call by call.
    named = dict(NAMES)
    named["#s"] = rng.choice(["state", "count", "tags"])
    named["#k"] = rng.choice(["k", "j"])
    return named

def values():
    roll = rng.random()
    if roll < 0.04: return None
    given = {name: value(usual if rng.random() < 0.97 else None) for name, usual in USUAL.items()}
    if roll < 0.12: del given[":v"]
    # Values moto's parse cannot take as they are: no type, two types, not an attribute value.
    if roll > 0.97: given[":v"] = rng.choice([{}, {"S": "a", "N": "1"}, "open", None])
    return given

compared, mismatches = 0, []
for _ in range(50):
    for expression in EXPRESSIONS:
        calls = [(expression, names(), values()) for _ in range(2)]
        items = [item() for _ in range(4)]
        # Both calls parsed before either is evaluated: a copy must not share the other's values.
        mine = [outcome(call, items, launcher._parse_once) for call in calls]
        mine = [evaluate() for evaluate in mine]
        moto = [outcome(call, items, launcher._parse_condition)() for call in calls]
        compared += len(calls)
        for call, launcher_outcome, moto_outcome in zip(calls, mine, moto):
            if launcher_outcome != moto_outcome:
                mismatches.append({"call": repr(call)[:300], "launcher": repr(launcher_outcome)[:300], "moto": repr(moto_outcome)[:300]})
info = launcher._condition_template.cache_info()
print(json.dumps({"compared": compared, "templateHits": info.hits, "mismatches": mismatches[:3]}))
`;

const table = 'condition-values';
const emulator = emulatorTable(table);
const dynamo = () => emulator.dynamo();

describe('the emulator launcher', () => {
  it('parses condition expressions as moto does, over a generated corpus', () => {
    const outcome = runLauncherScript<{ compared: number; templateHits: number; mismatches: unknown[] }>(
      differentialCheck,
    );
    expect(outcome.mismatches).toEqual([]);
    expect(outcome.compared).toBe(2600);
    // The corpus went through kept parses, not only around them.
    expect(outcome.templateHits).toBeGreaterThan(400);
  });

  it('decides a recurring condition by each call’s own values', async () => {
    const key = { pk: { S: 'bucket' } };
    await dynamo().send(new PutItemCommand({ TableName: table, Item: { ...key, tat: { N: '100' } } }));
    const take = (now: number, highest: number) =>
      dynamo().send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'SET tat = tat + :interval',
          ConditionExpression: 'tat >= :now AND tat <= :highest',
          ExpressionAttributeValues: {
            ':interval': { N: '10' },
            ':now': { N: String(now) },
            ':highest': { N: String(highest) },
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    expect((await take(90, 150)).Attributes).toEqual({ tat: { N: '110' } });
    await expect(take(90, 105)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(take(120, 200)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect((await take(110, 110)).Attributes).toEqual({ tat: { N: '120' } });
  });

  it('decides a recurring condition by each call’s own names', async () => {
    const key = { pk: { S: 'named' } };
    await dynamo().send(new PutItemCommand({ TableName: table, Item: { ...key, present: { N: '1' } } }));
    const touch = (attribute: string) =>
      dynamo().send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'SET touched = :t',
          ConditionExpression: 'attribute_exists(#a)',
          ExpressionAttributeNames: { '#a': attribute },
          ExpressionAttributeValues: { ':t': { BOOL: true } },
        }),
      );
    await expect(touch('present')).resolves.toBeDefined();
    await expect(touch('absent')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(touch('present')).resolves.toBeDefined();
  });
});
