"""Starts moto_server in-process so the local stack and the tests can patch known moto bugs in one place."""
import sys

from moto.server import main

if __name__ == "__main__":
    main(sys.argv[1:])
