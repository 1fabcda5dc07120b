"""local/moto_launcher.py plus one patch, for the benchmark's before/after of a proposed local-stack fix.

moto's EventBridge rule delivery calls jsonpath_ng.ext.parse() for every input path of every target on every
PutEvents, and jsonpath_ng rebuilds its yacc parse tables each time: ~100 ms of CPU per PutEvents under the GIL,
which serialises every other request moto is serving. Parsed expressions are immutable, so caching them is safe.
"""
import functools
import sys

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

from moto.server import main  # noqa: E402  (after the patch, so every later import sees it)

if __name__ == "__main__":
    main(sys.argv[1:])
