"""Starts moto server with each DynamoDB operation atomic, as real DynamoDB guarantees.

moto serves requests on many threads and its DynamoDB backend checks conditions and then writes
without a lock, so two concurrent conditional writes (or transactions) can both succeed, and a query
can observe half of a transaction. Real DynamoDB never allows either. This launcher wraps every
DynamoDB backend operation in one lock, then hands over to moto's own command line.
"""

import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

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

_lock = threading.RLock()


def _atomic(operation):
    def run(*args, **kwargs):
        with _lock:
            return operation(*args, **kwargs)

    run.__name__ = operation.__name__
    run.__doc__ = operation.__doc__
    return run


for _name in _OPERATIONS:
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main(sys.argv[1:])
