"""Starts moto_server in-process so the local stack and the tests can patch known moto bugs in one place.

moto's EventBridge rule delivery calls jsonpath_ng.ext.parse() for every target on every PutEvents, and jsonpath_ng
rebuilds its parse tables each time: ~100 ms of CPU per PutEvents under the GIL, which stalls every other request moto
serves (measured in bench/). Parsed expressions are immutable, so caching them changes nothing but the time.

moto_server answers requests on threads and its DynamoDB backend has no item-level isolation: two concurrent
UpdateItem calls on one item can both read it before either writes (two `ADD ticket :one` hand out the same number;
two conditional writes both pass). DynamoDB guarantees every single-item write is atomic and isolated, and the
service relies on it (the pacer's ticket counter, the claim), so DynamoDB requests are serialized here: each takes
about a millisecond in moto, and every other service keeps its threads.
"""
import functools
import sys
import threading

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

from moto.dynamodb.responses import DynamoHandler  # noqa: E402
from moto.server import main  # noqa: E402  (after the patch, so every later import sees it)

_dynamodb_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _dynamodb_lock:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action

if __name__ == "__main__":
    main(sys.argv[1:])
