#!/usr/bin/env python3
"""Validate a JSON document (stdin) against a JSON Schema file (argv[1]); exit 1 with the
error if it does not conform."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
document = json.load(sys.stdin)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
errors = sorted(validator.iter_errors(document), key=str)
for error in errors:
    print(f"{list(error.path)}: {error.message}", file=sys.stderr)
sys.exit(1 if errors else 0)
