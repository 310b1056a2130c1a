"""Starts moto server with DynamoDB behaving as AgentOS relies on real DynamoDB to behave.

1. Atomic writes. moto serves requests on many threads and its DynamoDB backend checks conditions and
   then writes without a lock, so two concurrent conditional writes (or transactions) can both
   succeed, which real DynamoDB never allows. Every DynamoDB backend operation runs under one lock
   here; reads too, because moto's tables are not safe to read while another thread writes. (Real
   DynamoDB queries are only read-committed per item and may see part of a transaction; AgentOS's
   readers are written for that, see functions/orchestrator/events/event-order.ts.)
2. Transactions that cost what they touch. moto snapshots each whole table (a deep copy) for every
   item of a TransactWriteItems call so it can roll back, which makes each transaction slower as the
   table grows. Under the lock above it is enough to snapshot the items the transaction writes.
3. Queries that cost their partition, and with a Limit what they reach. moto answers a Query on the
   table by listing and sorting every item of the table, then keeping those under the queried hash
   key, so every Query (and, under the lock above, every call queued behind it) slows down as the
   table grows: a three-step run took several times longer once the table held a few thousand runs.
   Real DynamoDB reads only the partition, and of it only from where the key condition or the start
   key puts it up to the Limit. Here a Query on the table itself (not an index) starts from the items
   under its hash key; with a Limit, moto is given only the items its walk reaches (from the start
   key or the key condition's bound, found by bisection in the partition's key order, to one past
   the Limit), so a page of a tenant's run index holding 10,000 runs costs little more than a page.
   The key order of the largest partitions queried lately is kept while their keys stay the same
   (checked against the keys at each Query, a pointer comparison per key). moto's own code still sorts,
   pages, filters and projects them, so answers are unchanged (test/infra/emulator-query-walks.test.ts
   compares the two over generated partitions and queries).
4. Concurrent Step Functions executions. moto deep-copies the state machine, executions included, on
   every StartExecution; once one execution is running (it holds thread locks) every further start
   fails with "cannot pickle '_thread.RLock'". The copy here leaves the executions out.

5. Step Functions callback tasks (moto_sfn_patches.py): a new task token for every retry attempt,
   StopExecution aborting an execution at once, and one answer per task (the first, even one sent
   before the task began to wait; later answers and heartbeats are refused with TaskTimedOut), as the
   long-run state machine needs.

(Unnumbered, in its own module) CloudFormation for the node stack (moto_cfn_models.py): the
   resource types moto lacks (Secrets Manager secrets, SQS queue policies, SES identities, API Gateway
   stages and gateway responses), properties it drops, and change-set execution as the CDK drives it
   (dependency order, outputs, updates, destroy), so `cdk bootstrap` + `cdk deploy` of the real stack
   complete.

6. moto's model dump (`/moto-api/data.json`), where `agentos validate --test-alert` finds the e-mail
   SES sent: moto skips only attributes whose value is not JSON, and answers HTTP 500 for the whole
   dump once any model's attribute raises anything else (as some do once the node stack is deployed).
   Such attributes are skipped too.

7. Request dispatch that costs the request, not the installation. For every request moto lists its
   own package folder on disk and tries each service's URL pattern in turn to find the backend for
   the request's host (about a tenth of the emulator's CPU under a local node's load); the answer
   for a host never changes, so it is kept, for at most a few hundred hosts. moto also lists every
   method of the service's response class, by introspection, for every request, to check that the
   action is one; the list of a class is kept (the launcher's patches are all applied before the
   first request). Werkzeug's line per
   successful request (`"POST / HTTP/1.1" 200 -`: every AWS JSON call looks alike) is dropped; lines
   for failed requests are kept.

8. Idempotent transactions. Real DynamoDB applies a TransactWriteItems call once per
   ClientRequestToken: a repeat within 10 minutes with the same items succeeds without writing again,
   and one with other items is refused with IdempotentParameterMismatchException. moto ignores the
   token, so an SDK retry of a transaction whose first attempt was applied but answered too late (a
   swamped emulator past the client's request timeout) applied it twice: a settlement released a
   model call's reservation twice and let later calls past a budget. Here a transaction that applied
   keeps its token for 10 minutes (at most 100,000 tokens); a cancelled one keeps nothing, so
   retrying it evaluates it again.

9. Update expressions parsed once per text. moto tokenizes and parses an UpdateExpression twice per
   update (once to check its placeholders, once to apply it), about a tenth of the emulator's CPU
   under a local node's load, where the same few expressions recur with other values. The parse of
   an expression text never changes and moto's validator works on a deep copy of it, so parsed
   expressions are kept, for at most a few thousand texts; one that fails to parse is not kept and
   fails again each time.

10. Update validation that costs the expression, not Python's generic copy. moto's validator deep-copies
   the parsed expression before it substitutes values (with `copy.deepcopy`, which looks up a copier
   for every node and attribute), and each of its ten passes rebuilds its table of node types for
   every node it visits: together about a quarter of the emulator's CPU under a local node's load.
   Here the parse tree (nodes holding strings, numbers and other nodes) is copied node by node,
   parents and children alike, and each kind of pass builds its table once; anything else is still copied by
   `copy.deepcopy`. A kept expression's tree never changes, so the first copy also writes down its
   recipe (each node's class and attributes, links to other nodes by position), compiled into a
   function that builds the copy; later copies are built by it, several times as fast as walking
   the tree. The first three passes only check
   (no two clauses of a kind, no overlapping paths, no key attribute updated) and read nothing but
   the expression, its attribute names and the table's key attributes; once a kept expression passed
   them with the same names and keys, they are not run on its copies again. A check that failed is
   not kept, so it fails again, the same way, each time. The passes' walk is moto's own, line for line, except that it remembers which
   classes are nodes and which of them a pass processes (moto's node classes are abstract base
   classes, for which every `isinstance` is a Python call), and skips the hook before each child
   that only one pass has. Every pass still runs in the same order on the same nodes.

11. Condition expressions split into tokens once per text. moto splits a ConditionExpression into
   tokens, a dozen regular expressions tried per token, for every conditional write and for every
   item of a transaction that has a condition. The tokens (immutable tuples) depend on the text
   alone, so the token lists of the last few thousand texts are kept; parsing the tokens with the
   call's own names and values, and evaluating them, is moto's own as before.

12. Queue writes that do not count the queue. Every SendMessage reads one attribute of its queue
   (ContentBasedDeduplication) and every message a ReceiveMessage returns reads another
   (MessageRetentionPeriod, three times), and moto answers each read by building all the queue's
   attributes, counting its messages three ways on the way. Those reads now skip the counts (they
   are not among the attributes read); GetQueueAttributes counts as before.

13. Items built in one pass. moto builds an item (for every PutItem and for each Put of a
   transaction) one attribute at a time, and before each it sums the size of every attribute already
   there, to refuse an item over DynamoDB's size limit: quadratic in the attributes, with maps and
   lists sized element by element. The same sums are kept as a running total here, so the item is
   refused at the same attribute with the same error, and built in one pass otherwise.

14. Connections kept open. Werkzeug, which serves moto, closes every connection after one answer,
   because its request handler cannot tell where a request's body ends (it drains whatever follows
   the answer instead), so every AWS call paid a new TCP connection and a new server thread. Here a
   request's body is read whole (by its Content-Length) before the application runs, so the stream
   stays at the next request and the connection stays open for it, as real AWS endpoints keep it.
   The answer still says `Connection: close`, and the connection closes, when the client asks for
   that, speaks HTTP/1.0, sends a coded (chunked) body, a body over 32 MiB or a Content-Length that
   is not a plain number, or when the answer does not announce where it ends (a chunked answer); no
   body follows a HEAD, a 204 or a 304. An answer that then does not go out as announced (a failure
   mid-answer) closes the connection after it, and bytes past its announced length are not sent.
   An answer's header block goes out with its body's first bytes, with Nagle's algorithm off, so no
   answer waits for the client's delayed acknowledgement. An open connection holds its server
   thread (a daemon) until its client closes it.

15. Attribute values written without the generic shape walk. moto writes every answer by walking the
   service's model, and for each member of each DynamoDB attribute value it tries half a dozen
   aliases of the member's name (about a tenth of the emulator's CPU under a local node's load, for
   items read, returned by updates, and queried by event streams). An attribute value that moto
   holds as a plain dict of AttributeValue's own member names is written directly here: the walk's
   lookups could only have found each member under its own name, so the JSON is the same, byte for
   byte (test/infra/emulator-serialization.test.ts compares the two over a generated corpus).
   Anything else (other names in the dict, another kind of object, response transformers) is still
   walked by moto.

16. Condition expressions parsed once per text and placeholders. moto parses a ConditionExpression
   (after the lexing of point 11) with the call's own names and values, in half a dozen passes over
   its tokens: twice for a conditional write (once to check the names it uses, once to evaluate it),
   three times for a transaction's Put, Update or Delete with a condition, and twice for a query's
   FilterExpression, each time with other values. The parse reads neither a name nor a value: a
   name becomes an element of an attribute path, a value goes whole to the operand that holds it
   (which reads only its type). So the operator tree of a text and the placeholders the call gives
   is kept, each name and value standing as a slot, for the last few thousand; each call gets a
   copy of the tree with its own names and values in the slots, built as moto builds them, and the
   same names and placeholders found. A call whose parse fails (parsed again by moto, which raises
   its own error), whose names or values are not plain, or whose tree is over 64 levels deep, is
   parsed by moto as before. (test/infra/emulator-conditions.test.ts compares the two over a
   generated corpus.)

17. Garbage collection that scans what is new. moto holds every table item, queue message and
   execution as Python objects, and Python's cyclic collector scans all of them in each full
   collection: with half a million objects (a few hundred runs) each took about a quarter of a
   second, every few seconds under a local node's load, with every request held up meanwhile.
   Here, after a full collection, the next request freezes what the collector tracks (`gc.freeze`:
   the survivors, and what requests in flight hold), so later collections scan only newer objects;
   once a minute a request releases them again (`gc.unfreeze`), so the next full collection scans
   everything and reclaims any cycle that has become garbage since. Objects without cycles are freed
   as before, when their last reference goes.

18. Attribute values compared without the generic cast. moto compares two attribute values (key
   equality, sort order, hashing) through their cast value, a property that tests the value's type
   against every kind of value before it returns a number as a Decimal and a string, binary or
   boolean as it is. A Query compares the queried key with every item of its partition and sorts
   them, so on a partition of 10,000 items (a tenant's run index, after 10,000 runs) these tests were
   four fifths of the Query. Here a number, string, binary or boolean value is cast straight away,
   and two values of one such type are compared without the property (two values of different types
   are unequal, as moto finds); sets, lists, maps and null go through moto's own code, so every
   comparison answers as before. (test/infra/emulator-comparisons.test.ts compares the two over every pair of a corpus.)

Then it hands over to moto's own command line.

These patches reach into moto's private internals, so they hold only for the moto version pinned in
cli/emulator-requirements.txt (and point 14 for the Werkzeug version pinned there): with any other
version installed the launcher refuses to start (exit code 3) rather than run an emulator whose
patches may silently do nothing.
"""

import copy
import hashlib
import inspect
import os
import re
import sys
import threading

import moto

_REFUSED_VERSION_EXIT_CODE = 3


def _pinned_moto_version():
    requirements = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator-requirements.txt")
    with open(requirements, encoding="utf-8") as handle:
        for line in handle:
            found = re.match(r"^moto\[server\]==([0-9][^\s#]*)", line.strip())
            if found:
                return found.group(1)
    raise SystemExit(f"no moto[server]==VERSION pin in {requirements}")


_pinned = _pinned_moto_version()
if moto.__version__ != _pinned:
    sys.stderr.write(
        f"moto {moto.__version__} is installed but the launcher's patches are written for moto {_pinned} "
        "(cli/emulator-requirements.txt); run `bash cli/bootstrap.sh test` to install the pinned version\n"
    )
    sys.exit(_REFUSED_VERSION_EXIT_CODE)

import moto.dynamodb.models as dynamodb_models
import moto.stepfunctions.parser.models as stepfunctions_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main
from moto.stepfunctions.models import StateMachine

_lock = threading.RLock()


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend: whole tables are not copied."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


dynamodb_models.copy = _TablesAreNotCopied()


class _ExecutionsAreNotCopied:
    """Stands in for the `copy` module inside moto's Step Functions parser backend."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, StateMachine):
            clone = copy.copy(value)
            clone.executions = []
            return clone
        return copy.deepcopy(value, memo)


stepfunctions_models.copy = _ExecutionsAreNotCopied()


def _written_keys(backend, transact_items):
    keys = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None or op_type == "ConditionCheck":
            continue
        if op_type == "Put":
            source = op.get("Item", {})
            key = {table.hash_key_attr: source.get(table.hash_key_attr)}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = source.get(table.range_key_attr)
        else:
            key = op.get("Key", {})
        if all(value is not None for value in key.values()):
            keys.append((op["TableName"], key))
    return keys


_original_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    snapshots = []
    for table_name, key in _written_keys(self, transact_items):
        try:
            current = self.get_item(table_name, key)
        except Exception:  # an invalid key: moto's own validation reports it below
            continue
        snapshots.append((table_name, key, None if current is None else copy.deepcopy(current.to_json()["Attributes"])))
    try:
        return _original_transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(snapshots):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise


DynamoDBBackend.transact_write_items = _transact_write_items

# A Query on the table (not an index) names the one partition it reads, and with a Limit the items
# of it that it reaches (item 3 above).
import bisect  # noqa: E402
from collections import OrderedDict  # noqa: E402

from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402

_query_scope = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items
_query_signature = inspect.signature(_original_query)
# The query's walk (sort, start key, key condition, Limit) and the comparisons it makes, as read here.
_QUERY_SOURCES_SHA256 = ("002b4d00be6df07c", "6d70f41f7cb059f4", "5a77253bbdb399ee")
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (_original_query, Table._item_comes_before_dct, DynamoType.compare)
) != _QUERY_SOURCES_SHA256:
    raise SystemExit("moto's Table.query reads its items differently; revisit item 3")


def _all_items(self):
    partition = getattr(_query_scope, "partition", None)
    if partition is None or partition[0] is not self:
        return _original_all_items(self)
    if partition[2] is not None:
        return partition[2]
    # `get`, not `[]`: self.items is a defaultdict, and a read must not add an empty partition.
    return list(self.items.get(partition[1], {}).values())


# Key conditions whose matches, in key order, start at their lower bound (a forward Query) or end at
# their upper bound (a backward one): the position of the bound's value in range_objs.
_LOWER_BOUNDED = frozenset(("GT", ">", "GE", ">=", "BETWEEN", "EQ", "="))
_UPPER_BOUND_AT = {"LT": 0, "<": 0, "LE": 0, "<=": 0, "BETWEEN": 1, "EQ": 0, "=": 0}


# The range keys of the largest partitions queried lately, in key order, with their casts: sorting a
# partition of 10,000 items costs a Query more than the page it answers.
_KEY_ORDER_FROM = 256
_KEY_ORDERS_KEPT = 64
_key_orders = OrderedDict()


def _in_key_order(partition):
    """The partition's range keys in key order, and their casts (moto orders keys by their casts).

    A large partition's order is kept while its keys stay the same: the keys in the dict's order are
    compared with those it was computed from, which costs a pointer comparison per key when nothing
    changed (a replaced item keeps its key object), and finds any key added or removed.
    """
    keys = list(partition)
    kept = _key_orders.get(id(partition)) if len(keys) >= _KEY_ORDER_FROM else None
    if kept is not None and kept[0] is partition and kept[1] == keys:
        _key_orders.move_to_end(id(partition))
        return kept[2], kept[3]
    ordered = sorted(keys, key=lambda key: key.cast_value)
    casts = [key.cast_value for key in ordered]
    if len(keys) >= _KEY_ORDER_FROM:
        _key_orders[id(partition)] = (partition, keys, ordered, casts)
        _key_orders.move_to_end(id(partition))
        while len(_key_orders) > _KEY_ORDERS_KEPT:
            _key_orders.popitem(last=False)
    return ordered, casts


def _query_candidates(table, hash_key, arguments):
    """The items of the partition that moto's Query, with its Limit, reaches, in key order (item 3).

    moto sorts the partition, skips to the exclusive start key, then walks the items in the query's
    direction, keeping those its key condition matches, until it has `limit` of them and meets one
    more (which makes it answer a LastEvaluatedKey). Here the same walk starts at the start key or at
    the key condition's bound, found by bisection, and the items it reaches are what moto is given;
    items before that start are skipped by moto too, and match nothing. A bound is used only when
    the condition has as many values as it takes, of the keys' type (moto compares the values it is
    given with each item it walks, and one of another type or count may raise where this would skip).
    None (moto reads the whole partition) for a Query without a Limit or with a legacy filter, or with
    a start key outside the partition, of another type than the keys, or without a boolean
    ScanIndexForward (moto then compares each item's order with that value).
    """
    limit = arguments.get("limit")
    if not limit or arguments.get("filter_kwargs") or len(arguments.get("range_key_conditions") or ()) > 1:
        return None
    partition = table.items.get(hash_key)
    if not partition:
        return None
    comparison = arguments.get("range_comparison")
    bounds = arguments.get("range_objs") or []
    direction = arguments.get("scan_index_forward")
    forward = direction is not False
    start_key = arguments.get("exclusive_start_key")
    try:
        ordered, casts = _in_key_order(partition)
        key_type = ordered[0].type
        low, high = 0, len(ordered)
        if start_key is not None:
            if type(direction) is not bool or DynamoType(start_key[table.hash_key_attr]) != hash_key:
                return None
            after = DynamoType(start_key[table.range_key_attr])
            if after.type != key_type:
                return None
            # The items at or before the start key, in the query's direction, are the previous pages.
            if forward:
                low = max(low, bisect.bisect_right(casts, after.cast_value))
            else:
                high = min(high, bisect.bisect_left(casts, after.cast_value))
        bounded = len(bounds) == (2 if comparison == "BETWEEN" else 1) and all(
            bound.type == key_type for bound in bounds
        )
        if bounded and comparison in _LOWER_BOUNDED and forward:
            low = max(low, bisect.bisect_left(casts, bounds[0].cast_value))
        if bounded and comparison in _UPPER_BOUND_AT and not forward:
            high = min(high, bisect.bisect_right(casts, bounds[_UPPER_BOUND_AT[comparison]].cast_value))
        reached = []
        matched = 0
        for position in range(low, high) if forward else range(high - 1, low - 1, -1):
            item = partition[ordered[position]]
            reached.append(item)
            if matched == limit:
                break
            if comparison is None or item.range_key.compare(comparison, bounds):
                matched += 1
    except (TypeError, KeyError, ArithmeticError, IndexError):
        # Keys or values moto would order or compare otherwise (or refuse): moto reads them all, and
        # answers (or refuses) as it always did.
        return None
    return reached


def _query(self, hash_key, *args, **kwargs):
    arguments = _query_signature.bind(self, hash_key, *args, **kwargs).arguments
    if arguments.get("index_name") or hash_key is None or self.range_key_attr is None:
        return _original_query(self, hash_key, *args, **kwargs)
    _query_scope.partition = (self, hash_key, _query_candidates(self, hash_key, arguments))
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _query_scope.partition = None


Table.all_items = _all_items
Table.query = _query

_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)


def _atomic(operation):
    def run(*args, **kwargs):
        with _lock:
            return operation(*args, **kwargs)

    run.__name__ = operation.__name__
    run.__doc__ = operation.__doc__
    return run


for _name in _OPERATIONS:
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

# Callback tasks (task tokens, StopExecution, one answer per task) as the long-run state machine needs
# them (moto_sfn_patches.py).
import moto_sfn_patches  # noqa: E402,F401

# CloudFormation resource types and engine fixes the node stack needs to deploy (moto_cfn_models.py).
import moto_cfn_models  # noqa: E402,F401

# The model dump skips attributes that raise, instead of failing whole (point 6 above).
import json  # noqa: E402

from moto.moto_api._internal.responses import MotoAPIResponse  # noqa: E402


def _model_data(self, request, full_url, headers):  # type: ignore[no-untyped-def]
    from moto.core.model_instances import model_data

    results = {}
    for service in sorted(model_data):
        models = model_data[service]
        results[service] = {}
        for name in sorted(models):
            results[service][name] = []
            for instance in models[name].instances_tracked:
                found = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:  # noqa: BLE001 - an attribute that cannot be shown is left out
                        continue
                    found[attr] = value
                results[service][name].append(found)
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


MotoAPIResponse.model_data = _model_data  # type: ignore[method-assign]
# The route table holds the method bound when it was built: bind it again.
import moto.moto_api._internal.urls as _moto_api_urls  # noqa: E402

_moto_api_urls.url_paths["{0}/moto-api/data.json"] = _moto_api_urls.response_instance.model_data

# Dispatch without a disk listing and a pattern search per request (point 7 above).
import moto.backends as _moto_backends  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: E402
from werkzeug.serving import WSGIRequestHandler  # noqa: E402

_moto_modules = tuple(_moto_backends.list_of_moto_modules())
_moto_backends.list_of_moto_modules = lambda: _moto_modules  # type: ignore[assignment]

_MAX_KNOWN_HOSTS = 512
_known_hosts: dict = {}
_backend_for_host = DomainDispatcherApplication.get_backend_for_host


def _cached_backend_for_host(self, host):  # type: ignore[no-untyped-def]
    # Called under the dispatcher's own lock.
    if host in _known_hosts:
        return _known_hosts[host]
    backend = _backend_for_host(self, host)
    if len(_known_hosts) < _MAX_KNOWN_HOSTS:
        _known_hosts[host] = backend
    return backend


DomainDispatcherApplication.get_backend_for_host = _cached_backend_for_host  # type: ignore[method-assign]

import moto.core.responses as _moto_responses  # noqa: E402

_method_names_from_class = _moto_responses.method_names_from_class
_MAX_RESPONSE_CLASSES = 512
_known_method_names: dict = {}


def _cached_method_names(cls):  # type: ignore[no-untyped-def]
    names = _known_method_names.get(cls)
    if names is None:
        names = _method_names_from_class(cls)
        if len(_known_method_names) < _MAX_RESPONSE_CLASSES:
            _known_method_names[cls] = names
    return names


_moto_responses.method_names_from_class = _cached_method_names  # type: ignore[assignment]
_log_request = WSGIRequestHandler.log_request


def _log_failed_request(self, code="-", size="-"):  # type: ignore[no-untyped-def]
    if str(code)[:1] in ("1", "2", "3"):
        return
    _log_request(self, code, size)


WSGIRequestHandler.log_request = _log_failed_request  # type: ignore[method-assign]

# Transactions applied once per ClientRequestToken (point 8 above).
import time  # noqa: E402

from moto.core.responses import ActionResult  # noqa: E402
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException  # noqa: E402
from moto.dynamodb.responses import DynamoHandler  # noqa: E402

_TOKEN_WINDOW_SECONDS = 600
_MAX_TOKENS = 100_000
# (account, region, token) -> (digest of the items, when the token may be used for a new write).
# Every entry has the same window, so insertion order is expiry order.
_applied_tokens: OrderedDict = OrderedDict()
_handler_transact_write_items = DynamoHandler.transact_write_items


class _IdempotentParameterMismatch(DynamodbException):
    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            _IdempotentParameterMismatch.error_type,
            "The request uses the same client token as a previous, but non-identical request.",
        )


def _bytes_for_digest(value):  # type: ignore[no-untyped-def]
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": value.hex()}
    raise TypeError(f"{type(value).__name__} in a transaction's items")


def _transact_write_items_once(self):  # type: ignore[no-untyped-def]
    token = self.body.get("ClientRequestToken")
    if token is None:
        return _handler_transact_write_items(self)
    key = (self.current_account, self.region, token)
    # moto has decoded binary attributes (B, BS) to bytes by now.
    items = json.dumps(self.body["TransactItems"], sort_keys=True, default=_bytes_for_digest)
    digest = hashlib.sha256(items.encode()).digest()
    with _lock:
        now = time.monotonic()
        while _applied_tokens:
            oldest = next(iter(_applied_tokens.values()))
            if oldest[1] > now and len(_applied_tokens) < _MAX_TOKENS:
                break
            _applied_tokens.popitem(last=False)
        applied = _applied_tokens.get(key)
        if applied is not None:
            if applied[0] != digest:
                raise _IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = _handler_transact_write_items(self)
        _applied_tokens[key] = (digest, now + _TOKEN_WINDOW_SECONDS)
        return result


DynamoHandler.transact_write_items = _transact_write_items_once  # type: ignore[method-assign]

# Update expressions parsed once per text (point 9 above).
import functools  # noqa: E402

from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # noqa: E402
from moto.dynamodb.parsing.validators import Validator  # noqa: E402

if "self.node_to_validate = deepcopy(expression)" not in inspect.getsource(Validator.__init__):
    raise SystemExit("moto's update validator no longer works on a copy of the parsed expression; revisit item 9")

_MAX_PARSED_EXPRESSIONS = 4096
_parse_update_expression = UpdateExpressionParser.make


@functools.lru_cache(maxsize=_MAX_PARSED_EXPRESSIONS)
def _parsed_update_expression(expression_str):  # type: ignore[no-untyped-def]
    return _parse_update_expression(expression_str)


UpdateExpressionParser.make = staticmethod(_parsed_update_expression)  # type: ignore[method-assign,assignment]

# Update validation without generic deep copies or per-node tables (point 10 above).
import moto.dynamodb.parsing.validators as _validators  # noqa: E402
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # noqa: E402

if _validators.deepcopy is not copy.deepcopy or "return tuple(k for k in self._processing_map().keys())" not in (
    inspect.getsource(DepthFirstTraverser.nodes_to_be_processed)
):
    raise SystemExit("moto's update validator copies or dispatches nodes differently; revisit item 10")


def _node_classes_of(cls):  # type: ignore[no-untyped-def]
    yield cls
    for subclass in cls.__subclasses__():
        yield from _node_classes_of(subclass)


# The copy below does what copy.deepcopy does for objects that copy their attributes: no node
# class may copy, pickle or store itself otherwise.
if any(
    name in vars(cls)
    for cls in _node_classes_of(Node)
    for name in (
        "__new__",
        "__slots__",
        "__deepcopy__",
        "__copy__",
        "__reduce__",
        "__reduce_ex__",
        "__getstate__",
        "__setstate__",
    )
):
    raise SystemExit("a node class of moto's update expressions copies itself its own way now; revisit item 10")

_IMMUTABLE = (str, int, float, bool, type(None))


def _copy_node(node, memo):  # type: ignore[no-untyped-def]
    # What copy.deepcopy does for a node (a new instance, its attributes copied, each object copied
    # once through `memo`, so parent links land on the copies), without its per-object dispatch.
    found = memo.get(id(node))
    if found is not None:
        return found
    clone = object.__new__(type(node))
    memo[id(node)] = clone
    state = clone.__dict__
    for key, value in node.__dict__.items():
        state[key] = _copy_member(value, memo)
    return clone


def _copy_member(value, memo):  # type: ignore[no-untyped-def]
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, Node):
        return _copy_node(value, memo)
    if type(value) is list:
        copied = memo.get(id(value))
        if copied is None:
            copied = memo[id(value)] = []
            copied.extend(_copy_member(member, memo) for member in value)
        return copied
    return copy.deepcopy(value, memo)


def _recipe_of(root):  # type: ignore[no-untyped-def]
    """How to build a copy of the tree under `root` without walking it, or None where it cannot tell.

    The nodes reachable from `root` (through children and parent links), each as its class and its
    attributes: a value kept as it is (strings, numbers, None), a link to another node by its
    position, or a new list of such. A tree holding anything else, or one list in two places, has
    no recipe and is copied node by node.
    """
    position: dict = {}
    nodes: list = []
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in position:
            continue
        position[id(node)] = len(nodes)
        nodes.append(node)
        for member in node.__dict__.values():
            if _is_node(member):
                pending.append(member)
            elif type(member) is list:
                pending.extend(item for item in member if _is_node(item))
    lists_seen: set = set()
    recipe = []
    for node in nodes:
        steps = []
        for name, member in node.__dict__.items():
            if type(name) is not str:
                return None
            if type(member) in _IMMUTABLE:
                steps.append((name, 0, member))
            elif _is_node(member):
                steps.append((name, 1, position[id(member)]))
            elif type(member) is list and id(member) not in lists_seen:
                lists_seen.add(id(member))
                items = []
                for item in member:
                    if _is_node(item):
                        items.append((True, position[id(item)]))
                    elif type(item) in _IMMUTABLE:
                        items.append((False, item))
                    else:
                        return None
                steps.append((name, 2, tuple(items)))
            else:
                return None
        recipe.append((type(node), tuple(steps)))
    return tuple(recipe)


def _builder_of(recipe):  # type: ignore[no-untyped-def]
    """A function that builds a new copy from `recipe`: its steps written out as Python, compiled once.

    Every node is created first, then given its attributes as one dict (links to nodes by variable,
    kept values as constants passed in, lists as list displays), so the copy costs no loop over the
    recipe. Attribute names are written with `repr`, a valid literal for any string.
    """
    constants: list = []

    def constant(value):  # type: ignore[no-untyped-def]
        constants.append(value)
        return f"K[{len(constants) - 1}]"

    lines = ["def build(K, C, new):"]
    lines += [f"    n{index} = new(C[{index}])" for index in range(len(recipe))]
    for index, (_, steps) in enumerate(recipe):
        members = []
        for name, kind, payload in steps:
            if kind == 0:
                written = constant(payload)
            elif kind == 1:
                written = f"n{payload}"
            else:
                written = "[" + ", ".join(f"n{item}" if is_node else constant(item) for is_node, item in payload) + "]"
            members.append(f"{name!r}: {written}")
        lines.append(f"    n{index}.__dict__ = {{{', '.join(members)}}}")
    lines.append("    return n0")
    namespace: dict = {}
    try:
        exec(compile("\n".join(lines), "<update expression recipe>", "exec"), namespace)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # copied node by node instead
    build = namespace["build"]
    kept, classes = tuple(constants), tuple(cls for cls, _ in recipe)
    return functools.partial(build, kept, classes, object.__new__)


def _keep(cache, key, value, limit):  # type: ignore[no-untyped-def]
    """Keeps `value` under `key` in `cache`, dropping the oldest entry first when `limit` are kept.

    Only for caches changed under the lock of point 1 (dropping the oldest is not safe otherwise).
    """
    if key not in cache and len(cache) >= limit:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


# Parsed expressions are kept (point 9) and never changed (the validator works on copies), so the
# recipe of one holds as long as the expression does: each entry keeps its expression, which its
# key (the expression's id) then cannot name another one.
# Validations run under the lock of point 1 (update_item and transact_write_items both go through
# it), so these caches are never changed by two threads at once.
_MAX_RECIPES = _MAX_PARSED_EXPRESSIONS
_recipes: dict = {}


def _copy_for_validation(value, memo=None):  # type: ignore[no-untyped-def]
    if isinstance(value, Node):
        if memo is None:
            entry = _recipes.get(id(value))
            if entry is None or entry[0] is not value:
                recipe = _recipe_of(value)
                entry = _keep(_recipes, id(value), (value, None if recipe is None else _builder_of(recipe)), _MAX_RECIPES)
            if entry[1] is not None:
                return entry[1]()
        return _copy_node(value, {} if memo is None else memo)
    return copy.deepcopy(value, memo)


# Each pass's table maps fixed node classes to methods of its own class; kept per class as plain
# functions (a table of bound methods kept on the pass itself would make every pass a reference
# cycle), for the few passes moto has. A pass whose table holds anything else is not kept.
_pass_tables: dict = {}


def _pass_table(self):  # type: ignore[no-untyped-def]
    cls = type(self)
    table = _pass_tables.get(cls)
    if table is None:
        built = self._processing_map()
        if not all(getattr(method, "__self__", None) is self for method in built.values()):
            return tuple((node_class, method, False) for node_class, method in built.items())
        table = _pass_tables[cls] = tuple((node_class, method.__func__, True) for node_class, method in built.items())
    return table


def _nodes_to_be_processed(self):  # type: ignore[no-untyped-def]
    return tuple(node_class for node_class, _, _ in _pass_table(self))


def _process(self, node):  # type: ignore[no-untyped-def]
    for node_class, processor, unbound in _pass_table(self):
        if isinstance(node, node_class):
            return processor(self, node) if unbound else processor(node)
    return None


# The checks that read nothing but the expression, its names and the table's keys, run once per
# expression and inputs (point 10 above), from moto 5.2.1's validators.py: the digests refuse any other
# text of the checks, of the validator's run of its passes, or of what it keeps.
_CHECK_SOURCES_SHA256 = (
    "3fe995f04a9c4a2d",
    "27f48a77a1762303",
    "18ca06e4b0d82e64",
    "5a99f0d36c7b7b8e",
    "9489b532dd0fb359",
)
_PURE_CHECKS = (
    _validators.ActionCountValidator,
    _validators.OverlappingPathsValidator,
    _validators.UpdateHashRangeKeyValidator,
)
if tuple(
    hashlib.sha256(inspect.getsource(source).encode()).hexdigest()[:16]
    for source in (*_PURE_CHECKS, Validator.validate, Validator.__init__)
) != _CHECK_SOURCES_SHA256:
    raise SystemExit("moto's update validator checks expressions differently; revisit item 10")

# (id of a kept expression, check, its inputs) -> that expression, which the entry keeps so that
# its id cannot name another one. Bounded like the expressions themselves, oldest out first.
_MAX_PASSED_CHECKS = 4 * _MAX_PARSED_EXPRESSIONS
_passed_checks: dict = {}
_validator_init = Validator.__init__


def _check_inputs(check):  # type: ignore[no-untyped-def]
    if type(check) is _validators.ActionCountValidator:
        return ()
    names = check.expression_attribute_names
    named = None if names is None else tuple(sorted(names.items()))
    if type(check) is _validators.OverlappingPathsValidator:
        return named
    return (named, tuple(check.table_key_attributes))


def _init_keeping_expression(self, expression, *args, **kwargs):  # type: ignore[no-untyped-def]
    _validator_init(self, expression, *args, **kwargs)
    self._agentos_expression = expression


def _validate(self):  # type: ignore[no-untyped-def]
    # moto's loop over its passes, except that a check this expression already passed with the same
    # inputs is not run on its copy again: a check changes nothing, and until a pass that changes the
    # copy has run, the copy is the expression node for node. A check that failed is not kept, so it
    # runs (and fails the same way) again.
    n = self.node_to_validate
    expression = self._agentos_expression
    unchanged = True
    for processor in self.processors:
        key = None
        if unchanged and type(processor) in _PURE_CHECKS:
            try:
                key = (id(expression), type(processor), _check_inputs(processor))
                hash(key)
            except TypeError:
                key = None
            if key is not None and _passed_checks.get(key) is expression:
                continue
        else:
            unchanged = False
        n = processor.traverse(n)
        if key is not None:
            _keep(_passed_checks, key, expression, _MAX_PASSED_CHECKS)
    return n


Validator.__init__ = _init_keeping_expression  # type: ignore[method-assign]
Validator.validate = _validate  # type: ignore[method-assign]

# moto's walk and dispatch, from moto 5.2.1's ast_nodes.py; the digests refuse any other text of them.
# The hook the walk skips when a pass keeps moto's own, which does nothing, is pinned too.
_WALK_SOURCES_SHA256 = ("d7f01d9b45cf9f64", "58328ec7c2f9b1f9", "7081127933bb856d")
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (
        DepthFirstTraverser.traverse_node_recursively,
        DepthFirstTraverser.process,
        DepthFirstTraverser.pre_processing_of_child,
    )
) != _WALK_SOURCES_SHA256:
    raise SystemExit("moto's update validator walks the parse tree differently; revisit item 10")

# Keyed by classes alone (moto's node and pass classes): bounded by the classes moto defines.
_node_classes: dict = {}
_processed_classes: dict = {}
_child_hook = DepthFirstTraverser.pre_processing_of_child


def _is_node(value):  # type: ignore[no-untyped-def]
    cls = type(value)
    known = _node_classes.get(cls)
    if known is None:
        known = _node_classes[cls] = issubclass(cls, Node)
    return known


def _walk(self, node, child_id=-1):  # type: ignore[no-untyped-def]
    if _is_node(node):
        parent_node = node.parent
        if node.children is not None:
            hook = type(self).pre_processing_of_child
            for i, child_node in enumerate(node.children):
                if hook is not _child_hook:
                    hook(self, node, i)
                _walk(self, child_node, i)
        key = (type(self), type(node))
        wanted = _processed_classes.get(key)
        if wanted is None:
            wanted = _processed_classes[key] = issubclass(key[1], self.nodes_to_be_processed())
        if wanted:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


_validators.deepcopy = _copy_for_validation  # type: ignore[attr-defined]
DepthFirstTraverser.traverse_node_recursively = _walk  # type: ignore[method-assign]
DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed  # type: ignore[method-assign]
DepthFirstTraverser.process = _process  # type: ignore[method-assign]

# Condition expressions split into tokens once per text (point 11 above).
import collections  # noqa: E402

from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: E402

# The lexer of moto 5.2.1's comparisons.py, which reads nothing but the text: the digests refuse any
# other text of it.
_LEX_SOURCES_SHA256 = ("a815288359216b2e", "58485dd15b2f6df5")
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (ConditionExpressionParser._lex_condition_expression, ConditionExpressionParser._lex_one_node)
) != _LEX_SOURCES_SHA256 or ConditionExpressionParser.Node.__bases__ != (tuple,):
    raise SystemExit("moto's condition expression lexer changed; revisit item 11")

_MAX_LEXED_CONDITIONS = 4096
_lex_condition_expression = ConditionExpressionParser._lex_condition_expression


@functools.lru_cache(maxsize=_MAX_LEXED_CONDITIONS)
def _condition_tokens(expression):  # type: ignore[no-untyped-def]
    parser = ConditionExpressionParser.__new__(ConditionExpressionParser)
    parser.condition_expression = expression
    return tuple(_lex_condition_expression(parser))


def _lex_once(self):  # type: ignore[no-untyped-def]
    # A fresh deque each time: the parser consumes it. Its tokens are tuples whose only list, their
    # children, is empty when lexed and never appended to.
    return collections.deque(_condition_tokens(self.condition_expression))


ConditionExpressionParser._lex_condition_expression = _lex_once  # type: ignore[method-assign]


# Condition expressions parsed once per text and placeholders (point 16 above), from moto 5.2.1's
# comparisons.py: the digest refuses any other text of it (the parse's passes, which read no name or
# value, and the operator classes, whose constructors store their operands as given).
import moto.dynamodb.comparisons as _comparisons  # noqa: E402
from moto.dynamodb.comparisons import AttributePath as _ConditionPath  # noqa: E402
from moto.dynamodb.comparisons import AttributeValue as _ConditionValue  # noqa: E402
from moto.dynamodb.comparisons import Func as _ConditionFunc  # noqa: E402
from moto.dynamodb.comparisons import Op as _ConditionOp  # noqa: E402

_COMPARISONS_SHA256 = "ececc4ad917526ae"
if hashlib.sha256(inspect.getsource(_comparisons).encode()).hexdigest()[:16] != _COMPARISONS_SHA256:
    raise SystemExit("moto parses condition expressions differently; revisit item 16")

_MAX_CONDITION_TEMPLATES = 4096
_MAX_CONDITION_DEPTH = 64
_parse_condition = ConditionExpressionParser.parse


class _Slot:
    """Where a template holds the call's name (`#name`) or value (`:name`) of one placeholder."""

    __slots__ = ("name",)

    def __init__(self, name):  # type: ignore[no-untyped-def]
        self.name = name


def _template_depth(node, depth=0):  # type: ignore[no-untyped-def]
    """How deep the operator tree under `node` goes (None past the limit)."""
    if depth >= _MAX_CONDITION_DEPTH:
        return None
    deepest = depth
    for member in vars(node).values():
        for child in member if isinstance(member, (list, tuple)) else (member,):
            if isinstance(child, (_ConditionOp, _ConditionFunc)):
                below = _template_depth(child, depth + 1)
                if below is None:
                    return None
                deepest = max(deepest, below)
    return deepest


@functools.lru_cache(maxsize=_MAX_CONDITION_TEMPLATES)
def _condition_template(expression, name_keys, value_keys):  # type: ignore[no-untyped-def]
    """moto's own parse of `expression`, each name and value standing as a slot (the parse never
    reads either: a name becomes an element of an attribute path, a value goes whole to the operand
    that holds it); None when the tree is too deep to copy."""
    parser = ConditionExpressionParser(
        expression,
        None if name_keys is None else {key: _Slot(key) for key in name_keys},
        None if value_keys is None else {key: {"S": _Slot(key)} for key in value_keys},
    )
    op = _parse_condition(parser)
    if _template_depth(op) is None:
        return None
    return op, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found)


def _filled(node, names, values, memo):  # type: ignore[no-untyped-def]
    """A copy of a template's operator tree with the call's names and values in its slots; `memo`
    copies a node held twice (a function keeps its operands by name and in its arguments) once."""
    copied = memo.get(id(node))
    if copied is not None:
        return copied
    kind = type(node)
    if kind is _ConditionValue:
        slot = node.value
        copied = _ConditionValue(values[slot.name]) if type(slot) is _Slot else node
    elif kind is _ConditionPath:
        path = node.path
        copied = (
            _ConditionPath([names[e.name] if type(e) is _Slot else e for e in path])
            if any(type(element) is _Slot for element in path)
            else node
        )
    elif isinstance(node, (_ConditionOp, _ConditionFunc)):
        copied = object.__new__(kind)
        copied.__dict__ = {
            name: (
                type(member)(_filled(child, names, values, memo) for child in member)
                if isinstance(member, (list, tuple))
                else _filled(member, names, values, memo)
            )
            for name, member in vars(node).items()
        }
    else:
        return node
    memo[id(node)] = copied
    return copied


def _condition_key(parser):  # type: ignore[no-untyped-def]
    """The template's key for this call, or None when the call's names or values do not fit one."""
    names = parser.expression_attribute_names
    values = parser.expression_attribute_values
    if (names is not None and type(names) is not dict) or (values is not None and type(values) is not dict):
        return None
    if values is not None and any(type(value) is not dict or len(value) != 1 for value in values.values()):
        return None
    return (
        parser.condition_expression,
        None if names is None else tuple(sorted(names)),
        None if values is None else tuple(sorted(values)),
    )


def _parse_once(self):  # type: ignore[no-untyped-def]
    try:
        key = _condition_key(self) if self.condition_expression else None
        template = None if key is None else _condition_template(*key)
    except Exception:
        # Handled by moto's own parse of the call as sent, below: it raises moto's own error.
        template = None
    if template is None:
        return _parse_condition(self)
    op, names_found, values_found = template
    self.expr_attr_names_found.extend(names_found)
    self.expr_attr_values_found.extend(values_found)
    return _filled(op, self.expression_attribute_names, self.expression_attribute_values, {})


ConditionExpressionParser.parse = _parse_once  # type: ignore[method-assign]

# Queue writes and reads that do not count the queue (point 12 above).
from moto.sqs.models import Queue, SQSBackend  # noqa: E402

_uncounted = threading.local()
_UNCOUNTED_READS = {"ContentBasedDeduplication", "MessageRetentionPeriod"}


def _attributes_read(function):  # type: ignore[no-untyped-def]
    source = inspect.getsource(function)
    if "approximate" in source:
        return None
    return set(re.findall(r'attributes(?:\.get\(|\[)"(\w+)"', source)) | set(
        re.findall(r'get_queue_attributes\(\s*queue_name,\s*\["(\w+)"\]', source)
    )


for _function in (SQSBackend.send_message, Queue.add_message, SQSBackend.is_message_valid_based_on_retention_period):
    _read = _attributes_read(_function)
    if _read is None or not _read or not _read <= _UNCOUNTED_READS:
        raise SystemExit(f"moto's {_function.__qualname__} reads other queue attributes now; revisit item 12")


def _without_counts(function):  # type: ignore[no-untyped-def]
    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        outer = getattr(_uncounted, "active", False)
        _uncounted.active = True
        try:
            return function(*args, **kwargs)
        finally:
            _uncounted.active = outer

    return run


def _count_unless_skipped(count):  # type: ignore[no-untyped-def]
    def counted(self):  # type: ignore[no-untyped-def]
        return 0 if getattr(_uncounted, "active", False) else count.fget(self)

    return property(counted)


for _name in (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
):
    setattr(Queue, _name, _count_unless_skipped(getattr(Queue, _name)))
SQSBackend.send_message = _without_counts(SQSBackend.send_message)  # type: ignore[method-assign]
SQSBackend.is_message_valid_based_on_retention_period = _without_counts(  # type: ignore[method-assign]
    SQSBackend.is_message_valid_based_on_retention_period
)

# Items built in one pass (point 13 above), from moto 5.2.1's dynamo_type.py: the digests refuse any
# other text of the constructor or of the size check it relies on.
from moto.dynamodb.exceptions import ItemSizeTooLarge  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: E402
from moto.dynamodb.models.utilities import bytesize  # noqa: E402

_ITEM_SOURCES_SHA256 = ("d9c12b62cb921831", "d979580fdbe14f79")
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (Item.__init__, LimitedSizeDict.__setitem__)
) != _ITEM_SOURCES_SHA256:
    raise SystemExit("moto builds or sizes items differently; revisit item 13")

_MAX_ITEM_BYTES = 405000  # moto's own limit, in LimitedSizeDict.__setitem__


def _build_item(self, hash_key, range_key, attrs):  # type: ignore[no-untyped-def]
    self.hash_key = hash_key
    self.range_key = range_key
    built = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(built)
    # The sum moto takes before each attribute: every name and value already set, plus the new one.
    # Nothing else changes the new item's values meanwhile, so a running total is that same sum.
    total = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        total += bytesize(key) + typed.size()
        if total > _MAX_ITEM_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(built, key, typed)
    self.attrs = built


Item.__init__ = _build_item  # type: ignore[method-assign]

# Connections kept open between requests (point 14 above), from Werkzeug 3.1.9's serving.py: the
# digests refuse any other text of the two methods this relies on (the request body is the socket's
# stream; the response says `Connection: close`, then the stream is drained).
import io  # noqa: E402
from importlib.metadata import PackageNotFoundError  # noqa: E402
from importlib.metadata import version as _installed_version  # noqa: E402

_PINNED_WERKZEUG = "3.1.9"
_HANDLER_SOURCES_SHA256 = ("774df60c75afd439", "5aa026f5fa8ca3c2")
try:
    _werkzeug_version = _installed_version("werkzeug")
except PackageNotFoundError:
    _werkzeug_version = "(no package metadata)"
if _werkzeug_version != _PINNED_WERKZEUG:
    sys.stderr.write(
        f"werkzeug {_werkzeug_version} is installed but the launcher's patches are written for "
        f"werkzeug {_PINNED_WERKZEUG} (cli/emulator-requirements.txt); run `bash cli/bootstrap.sh test`\n"
    )
    sys.exit(_REFUSED_VERSION_EXIT_CODE)
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (WSGIRequestHandler.run_wsgi, WSGIRequestHandler.make_environ)
) != _HANDLER_SOURCES_SHA256:
    raise SystemExit("werkzeug serves requests differently; revisit item 14")

# A body read ahead of the application is held in memory: larger ones keep werkzeug's own handling.
_MAX_READ_AHEAD_BYTES = 32 * 1024 * 1024


class _BodyCountingWriter:
    """The connection's writer, counting what is written after the response's header block.

    The header block is held until the body's first bytes (or a flush) and sent with them: two
    small writes on a kept connection would wait out the client's delayed acknowledgement (Nagle's
    algorithm), where a closing connection flushed at once.
    """

    __slots__ = ("raw", "body_bytes", "pending", "limit")

    def __init__(self, raw):  # type: ignore[no-untyped-def]
        self.raw = raw
        self.body_bytes = -1
        self.pending = b""
        # The body length the answer announced on a kept connection: bytes past it are not sent
        # (the client would read them as the next answer), and the connection closes after it.
        self.limit = None

    def write(self, data):  # type: ignore[no-untyped-def]
        if self.body_bytes < 0:
            self.pending += data
            return len(data)
        written = len(data)
        if self.limit is not None and self.body_bytes + written > self.limit:
            data = data[: max(0, self.limit - self.body_bytes)]
        self.body_bytes += written
        if self.pending:
            data, self.pending = self.pending + data, b""
        return self.raw.write(data) if data else written

    def flush(self):  # type: ignore[no-untyped-def]
        if self.pending:
            pending, self.pending = self.pending, b""
            self.raw.write(pending)
        self.raw.flush()


class _Exchange:
    """What one request on a kept connection has said and sent so far."""

    __slots__ = ("reader", "writer", "responses", "status", "content_length", "chunked", "connection_said")

    def __init__(self, reader, writer):  # type: ignore[no-untyped-def]
        self.reader = reader
        self.writer = writer
        self.responses = 0
        self.status = 0
        self.content_length = None
        self.chunked = False
        self.connection_said = False


def _plain_number(text):  # type: ignore[no-untyped-def]
    """A Content-Length's value when it is plain ASCII digits (no sign, space or underscore)."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    return None


def _announced_body_length(self, exchange):  # type: ignore[no-untyped-def]
    """How many body bytes the answer's status line and headers announce, or None if they do not."""
    if exchange.chunked or 100 <= exchange.status < 200:
        return None  # an interim answer: the final one follows, so it does not end the exchange
    if self.command == "HEAD" or exchange.status in (204, 304):
        return 0
    return _plain_number(exchange.content_length)


_make_environ = WSGIRequestHandler.make_environ
_run_wsgi = WSGIRequestHandler.run_wsgi
_send_response = WSGIRequestHandler.send_response
_send_header = WSGIRequestHandler.send_header
_end_headers = WSGIRequestHandler.end_headers


def _make_environ_read_ahead(self):  # type: ignore[no-untyped-def]
    environ = _make_environ(self)
    self._agentos_exchange = None
    if environ.get("wsgi.input_terminated") or "HTTP_TRANSFER_ENCODING" in environ:
        return environ  # a coded body: werkzeug reads it from the socket, and the connection closes
    length = _plain_number(environ.get("CONTENT_LENGTH") or "0")
    if length is None or length > _MAX_READ_AHEAD_BYTES:
        return environ  # werkzeug's own handling, and the connection closes
    body = self.rfile.read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != length:
        self.close_connection = True  # the client went away mid-body
        return environ
    # The socket's stream now starts at the next request: werkzeug's drain after the response reads
    # an empty stream instead, and the response's body is counted to prove it was sent whole.
    exchange = _Exchange(self.rfile, _BodyCountingWriter(self.wfile))
    self._agentos_exchange = exchange
    self.rfile = io.BytesIO()
    self.wfile = exchange.writer
    return environ


def _send_response_counted(self, code, message=None):  # type: ignore[no-untyped-def]
    exchange = getattr(self, "_agentos_exchange", None)
    if exchange is not None:
        exchange.responses += 1
        exchange.status = int(code)
    _send_response(self, code, message)


def _send_header_keeping_alive(self, keyword, value):  # type: ignore[no-untyped-def]
    # Werkzeug sends the application's headers, then Transfer-Encoding, then `Connection: close`:
    # by then the answer has said how long its body is, or that it will not say.
    exchange = getattr(self, "_agentos_exchange", None)
    if exchange is not None:
        name = keyword.lower()
        if name == "content-length":
            exchange.content_length = value
        elif name == "transfer-encoding":
            exchange.chunked = True
        elif name == "connection":
            # Only Werkzeug's own `Connection: close` is withheld: an application that says
            # something of the connection first is heard, and the connection closes after it.
            said_before, exchange.connection_said = exchange.connection_said, True
            length = _announced_body_length(self, exchange)
            if (
                not said_before
                and value.lower() == "close"
                and length is not None
                and exchange.responses == 1
                and not self.close_connection
                and self.request_version == "HTTP/1.1"
            ):
                exchange.writer.limit = length
                return
    _send_header(self, keyword, value)


def _end_headers_then_count(self):  # type: ignore[no-untyped-def]
    _end_headers(self)
    exchange = getattr(self, "_agentos_exchange", None)
    if exchange is not None:
        exchange.writer.body_bytes = 0


def _run_wsgi_on_kept_connection(self):  # type: ignore[no-untyped-def]
    try:
        _run_wsgi(self)
    finally:
        exchange = getattr(self, "_agentos_exchange", None)
        self._agentos_exchange = None
        if exchange is not None:
            self.rfile = exchange.reader
            try:
                exchange.writer.flush()
            finally:
                self.wfile = exchange.writer.raw
            # Open for the next request only when the answer went out as announced: one status line
            # and the body length its headers gave. Anything else (an answer that said it closes, a
            # failure mid-answer) closes it.
            if not (
                exchange.writer.limit is not None
                and exchange.responses == 1
                and exchange.writer.body_bytes == exchange.writer.limit
            ):
                self.close_connection = True


# Every answer goes out in one write (above); a kept connection must not hold it back either.
WSGIRequestHandler.disable_nagle_algorithm = True
WSGIRequestHandler.make_environ = _make_environ_read_ahead  # type: ignore[method-assign]
WSGIRequestHandler.run_wsgi = _run_wsgi_on_kept_connection  # type: ignore[method-assign]
WSGIRequestHandler.send_response = _send_response_counted  # type: ignore[method-assign]
WSGIRequestHandler.send_header = _send_header_keeping_alive  # type: ignore[method-assign]
WSGIRequestHandler.end_headers = _end_headers_then_count  # type: ignore[method-assign]

# DynamoDB attribute values serialized without the generic shape walk (point 15 above), for moto
# 5.2.1's serialize.py: the digests refuse any other text of it or of the value lookup it uses.
import moto.core.serialize as _serialize  # noqa: E402
import moto.core.utils as _moto_utils  # noqa: E402

_SERIALIZE_SHA256 = "fced0fac9fa8aaf8"
_GET_VALUE_SHA256 = "79ec14cb183c4ed6"
if (
    hashlib.sha256(open(_serialize.__file__, "rb").read()).hexdigest()[:16] != _SERIALIZE_SHA256
    or hashlib.sha256(
        (inspect.getsource(_moto_utils.get_value) + inspect.getsource(_moto_utils._get_value_for_key)).encode()
    ).hexdigest()[:16]
    != _GET_VALUE_SHA256
):
    raise SystemExit("moto serializes responses differently; revisit item 15")

# DynamoDB's AttributeValue: each member in the model's order, with its shape's type.
_ATTRIBUTE_VALUE_MEMBERS = (
    ("S", "string"),
    ("N", "string"),
    ("B", "blob"),
    ("SS", "list"),
    ("NS", "list"),
    ("BS", "list"),
    ("M", "map"),
    ("L", "list"),
    ("NULL", "boolean"),
    ("BOOL", "boolean"),
)
_ATTRIBUTE_VALUE_NAMES = frozenset(name for name, _ in _ATTRIBUTE_VALUE_MEMBERS)
_serialize_structure = _serialize.BaseJSONSerializer._serialize_type_structure


# Shape (by id) -> (the shape, whether it is AttributeValue as the fast path reads it). botocore
# keeps each operation's shapes, so the same few recur; each entry keeps its shape, so its id
# cannot name another one. Answers are written outside the lock of point 1, so entries are only
# added (at most a few hundred), never dropped.
_MAX_KNOWN_SHAPES = 512
_known_shapes: dict = {}


def _is_attribute_value(shape):  # type: ignore[no-untyped-def]
    if shape.name != "AttributeValue":
        return False
    known = _known_shapes.get(id(shape))
    if known is not None and known[0] is shape:
        return known[1]
    reads = _reads_as_attribute_value(shape)
    if len(_known_shapes) < _MAX_KNOWN_SHAPES:
        _known_shapes[id(shape)] = (shape, reads)
    return reads


def _reads_as_attribute_value(shape):  # type: ignore[no-untyped-def]
    # No shape on the way renames what it writes (a serialization name), as the JSON written assumes.
    if shape.name != "AttributeValue" or shape.serialization:
        return False
    members = shape.members
    if tuple((name, member.type_name) for name, member in members.items()) != _ATTRIBUTE_VALUE_MEMBERS:
        return False
    inner = [members[name].member for name in ("SS", "NS", "BS", "L")] + [members["M"].key, members["M"].value]
    return (
        not any(member.serialization for member in [*members.values(), *inner])
        and members["L"].member.name == "AttributeValue"
        and members["M"].value.name == "AttributeValue"
    )


def _walks_as_moto_does(serializer):  # type: ignore[no-untyped-def]
    # The lookups the JSON above stands for: moto's own picker, its own aliases, no transformers
    # (they match on the walk's key path, which the fast path does not keep).
    picker = serializer._value_picker
    return (
        type(picker) is _serialize.XFormedAttributePicker
        and picker.alias_providers is _serialize.DEFAULT_ALIAS_PROVIDERS
        and not picker.response_transformers
        and type(serializer)._serialize_type_blob is _serialize.ResponseSerializer._serialize_type_blob
        and type(serializer)._serialize_type_map is _serialize.BaseJSONSerializer._serialize_type_map
        and type(serializer)._serialize_type_list is _serialize.BaseJSONSerializer._serialize_type_list
        and type(serializer)._default_serialize is _serialize.ResponseSerializer._default_serialize
        and not hasattr(serializer, "_serialize_type_string")
        and not hasattr(serializer, "_serialize_type_boolean")
    )


def _attribute_value(self, value, shape):  # type: ignore[no-untyped-def]
    """The JSON moto's walk writes for one attribute value, or None where only the walk will do.

    For a plain dict holding only AttributeValue's member names, the walk's lookups find each member
    under its own name (the other names they try, like `ListAttributeValue` or `s`, are not in the
    dict), skip it when it is None, and write it as its shape says: strings and booleans as they are,
    blobs in base64, the sets' members likewise, a map's and a list's values as attribute values.
    """
    if type(value) is not dict or not _ATTRIBUTE_VALUE_NAMES.issuperset(value):
        return None
    written = {}
    for name, _ in _ATTRIBUTE_VALUE_MEMBERS:
        member = value.get(name)
        if member is None:
            continue
        if name == "M":
            entries = {}
            for entry_key, entry in member.items():
                if entry is None:
                    continue
                # moto's walk writes the members of an entry under the empty name into the map itself.
                fast = _attribute_value(self, entry, shape) if entry_key else None
                if fast is None:
                    _serialize_structure(self, entries, entry, shape, entry_key)
                else:
                    entries[entry_key] = fast
            written[name] = entries
        elif name == "L":
            items = []
            for item in member:
                fast = None if item is None else _attribute_value(self, item, shape)
                if fast is not None:
                    items.append(fast)
                    continue
                holder = {}
                _serialize_structure(self, holder, item, shape, "AttributeValue")
                items.append(holder["AttributeValue"] if "AttributeValue" in holder else item)
            written[name] = items
        elif name == "B":
            written[name] = self._base64(member)
        elif name == "BS":
            written[name] = [self._base64(item) for item in member]
        elif name in ("SS", "NS"):
            written[name] = list(member)
        else:
            written[name] = member
    return written


def _serialize_structure_fast(self, serialized, value, shape, key):  # type: ignore[no-untyped-def]
    if key and _is_attribute_value(shape) and _walks_as_moto_does(self):
        fast = _attribute_value(self, value, shape)
        if fast is not None:
            serialized[key] = fast
            return
    _serialize_structure(self, serialized, value, shape, key)


_serialize.BaseJSONSerializer._serialize_type_structure = _serialize_structure_fast  # type: ignore[method-assign]

# Garbage collection that scans what is new (point 17 above).
import gc  # noqa: E402

_RESCAN_SECONDS = 60.0


class _Generations:
    """Freezes what the collector tracks after a full collection, until the next rescan is due.

    A full collection only notes that it ran (its callback runs on whichever thread allocated last);
    the next request to start collects the young generations, so what is already garbage there is
    not frozen, and freezes the rest: the survivors, and whatever requests in flight hold. Once
    `rescan_seconds` have passed since the last release, a request releases the frozen objects
    instead, so the next full collection scans everything again. On a Python whose collector reports
    no full collections (3.14's incremental one), nothing is ever frozen.
    """

    def __init__(self, clock=time.monotonic, rescan_seconds=_RESCAN_SECONDS):  # type: ignore[no-untyped-def]
        self._clock = clock
        self._rescan_seconds = rescan_seconds
        self._released_at = clock()
        self._full_collection_ran = False

    def collected(self, phase, info):  # type: ignore[no-untyped-def]
        if phase == "stop" and info["generation"] == 2:
            self._full_collection_ran = True

    def before_request(self):  # type: ignore[no-untyped-def]
        now = self._clock()
        if now - self._released_at >= self._rescan_seconds:
            self._released_at = now
            gc.unfreeze()
            # Cleared after the release: a full collection before it must not freeze anew.
            self._full_collection_ran = False
        elif self._full_collection_ran:
            self._full_collection_ran = False
            gc.collect(1)
            gc.freeze()


_generations = _Generations()
gc.callbacks.append(_generations.collected)
_run_wsgi_kept = WSGIRequestHandler.run_wsgi


def _run_wsgi_after_settling(self):  # type: ignore[no-untyped-def]
    _generations.before_request()
    return _run_wsgi_kept(self)


WSGIRequestHandler.run_wsgi = _run_wsgi_after_settling  # type: ignore[method-assign]

# Attribute values compared without the generic cast (point 18 above).
from decimal import Decimal  # noqa: E402

_DYNAMO_TYPE_SOURCES_SHA256 = ("135da387dfcc7c1c", "48f12362c49f00c1", "44033f9fbd16ab92", "4d37bb816dede322")
if tuple(
    hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
    for function in (
        DynamoType.cast_value.fget,
        DynamoType.__eq__,
        DynamoType.__lt__,
        DynamoType.__hash__,
    )
) != _DYNAMO_TYPE_SOURCES_SHA256:
    raise SystemExit("moto compares attribute values differently; revisit item 18")

_generic_cast_value = DynamoType.cast_value.fget
_generic_eq = DynamoType.__eq__
_generic_lt = DynamoType.__lt__
# The types moto's cast returns as they are: every type but numbers, sets, lists, maps and null.
_UNCAST_TYPES = frozenset(("S", "B", "BOOL"))


def _cast_value(self):  # type: ignore[no-untyped-def]
    kind = self.type
    if kind == "N":
        return Decimal(self.value)
    if kind in _UNCAST_TYPES:
        return self.value
    return _generic_cast_value(self)


def _eq(self, other):  # type: ignore[no-untyped-def]
    kind = self.type
    if kind != other.type:
        return False
    if kind in _UNCAST_TYPES:
        return self.value == other.value
    if kind == "N":
        return Decimal(self.value) == Decimal(other.value)
    return _generic_eq(self, other)


def _lt(self, other):  # type: ignore[no-untyped-def]
    kind = self.type
    if kind == other.type:
        if kind == "N":
            return Decimal(self.value) < Decimal(other.value)
        if kind in _UNCAST_TYPES:
            return self.value < other.value
    return _generic_lt(self, other)


DynamoType.cast_value = property(_cast_value)  # type: ignore[method-assign,assignment]
DynamoType.__eq__ = _eq  # type: ignore[method-assign,assignment]
DynamoType.__lt__ = _lt  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
