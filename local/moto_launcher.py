"""Starts moto_server in-process so the local stack and the tests can patch known moto bugs in one place.

moto's EventBridge rule delivery calls jsonpath_ng.ext.parse() for every target on every PutEvents, and jsonpath_ng
rebuilds its parse tables each time: ~100 ms of CPU per PutEvents under the GIL, which stalls every other request moto
serves (measured in bench/). Parsed expressions are immutable, so caching them changes nothing but the time.
"""
import functools
import sys

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

from moto.server import main  # noqa: E402  (after the patch, so every later import sees it)

if __name__ == "__main__":
    main(sys.argv[1:])
