#!/usr/bin/env python3
"""Verify one outbound delivery the way a receiver would, with the official libraries.

Usage: verify_delivery.py <secret>  (stdin: {"headers": {...}, "body": "..."})
Checks with both `standardwebhooks` and `svix`; exits 0 only if both accept, 1 with the
libraries' verdicts on stderr otherwise. The timestamp is checked against the current
time (±5 minutes), as a live receiver would.
"""
import json
import sys

import standardwebhooks
import svix


def verdict(library, secret, body, headers):
    try:
        library.Webhook(secret).verify(body, headers)
        return None
    except Exception as error:  # each library has its own exception type
        return f"{library.__name__}: {type(error).__name__}: {error}"


if __name__ == "__main__":
    secret = sys.argv[1]
    delivery = json.load(sys.stdin)
    failures = [
        failure
        for library in (standardwebhooks, svix)
        if (failure := verdict(library, secret, delivery["body"], delivery["headers"]))
    ]
    for failure in failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures else 0)
