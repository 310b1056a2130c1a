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
3. Queries that cost their partition. moto answers a Query on the table by listing and sorting every
   item of the table, then keeping those under the queried hash key, so every Query (and, under the
   lock above, every call queued behind it) slows down as the table grows: a three-step run took
   several times longer once the table held a few thousand runs. Real DynamoDB reads only the
   partition. Here a Query on the table itself (not an index) starts from the items under its hash
   key; moto's own code still sorts, pages, filters and projects them, so answers are unchanged.
4. Concurrent Step Functions executions. moto deep-copies the state machine, executions included, on
   every StartExecution; once one execution is running (it holds thread locks) every further start
   fails with "cannot pickle '_thread.RLock'". The copy here leaves the executions out.

5. Step Functions callback tasks (moto_sfn_patches.py): a new task token for every retry attempt, and
   StopExecution aborting an execution at once, as the long-run state machine needs.

6. CloudFormation for the node stack (moto_cfn_models.py): the resource types moto lacks
   (Secrets Manager secrets, SQS queue policies, SES identities, API Gateway stages and gateway
   responses), properties it drops, and change-set execution as the CDK drives it (dependency order,
   outputs, updates, destroy), so `cdk bootstrap` + `cdk deploy` of the real stack complete.

6. moto's model dump (`/moto-api/data.json`), where `agentos validate --test-alert` finds the e-mail
   SES sent: moto skips only attributes whose value is not JSON, and answers HTTP 500 for the whole
   dump once any model's attribute raises anything else (as some do once the node stack is deployed).
   Such attributes are skipped too.

7. Request dispatch that costs the request, not the installation. For every request moto lists its
   own package folder on disk and tries each service's URL pattern in turn to find the backend for
   the request's host (about a tenth of the emulator's CPU under a local node's load); the answer
   for a host never changes, so it is kept, for at most a few hundred hosts. Werkzeug's line per
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

Then it hands over to moto's own command line.

These patches reach into moto's private internals, so they hold only for the moto version pinned in
cli/emulator-requirements.txt: with any other version installed the launcher refuses to start (exit
code 3) rather than run an emulator whose patches may silently do nothing.
"""

import copy
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

# A Query on the table (not an index) names the one partition it reads (item 3 above).
_query_scope = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items
_query_signature = inspect.signature(_original_query)
if "for item in self.all_items()" not in inspect.getsource(_original_query):
    raise SystemExit("moto's Table.query no longer finds its items through all_items(); revisit item 3")


def _all_items(self):
    partition = getattr(_query_scope, "partition", None)
    if partition is None or partition[0] is not self:
        return _original_all_items(self)
    # `get`, not `[]`: self.items is a defaultdict, and a read must not add an empty partition.
    return list(self.items.get(partition[1], {}).values())


def _query(self, hash_key, *args, **kwargs):
    index_name = _query_signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
    if index_name or hash_key is None or self.range_key_attr is None:
        return _original_query(self, hash_key, *args, **kwargs)
    _query_scope.partition = (self, hash_key)
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

# Callback tasks (task tokens, StopExecution) as the long-run state machine needs them (moto_sfn_patches.py).
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
_log_request = WSGIRequestHandler.log_request


def _log_failed_request(self, code="-", size="-"):  # type: ignore[no-untyped-def]
    if str(code)[:1] in ("1", "2", "3"):
        return
    _log_request(self, code, size)


WSGIRequestHandler.log_request = _log_failed_request  # type: ignore[method-assign]

# Transactions applied once per ClientRequestToken (point 8 above).
import hashlib  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402

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

if __name__ == "__main__":
    main(sys.argv[1:])
