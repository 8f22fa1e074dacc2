"""Checks real answers against the OpenAPI document they claim to follow.

Usage: openapi_conformance.py DOCUMENT < answers.jsonl

Each input line is {"method": "post", "path": "/token", "status": 200, "body": ...} with
`path` the document's template (`/admin/users/{username}`). For each, the response object
for the exact status (else its range, `4XX`, else `default`) must exist, and the body must
be valid by its JSON schema (OpenAPI 3.1 dialect, `$ref`s resolved in the document).
Prints one line per answer that does not conform and exits 1 if there was any.
"""

import json
import sys

from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        document = json.load(f)
    registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    failures = 0
    checked = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = json.loads(line)
        where = f"{answer['method'].upper()} {answer['path']} -> {answer['status']}"
        operation = document["paths"].get(answer["path"], {}).get(answer["method"])
        if operation is None:
            print(f"{where}: no such operation in the document")
            failures += 1
            continue
        responses = operation.get("responses", {})
        status = str(answer["status"])
        response = (
            responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
        )
        if response is None:
            print(f"{where}: status not in the document")
            failures += 1
            continue
        content = response.get("content")
        if answer.get("body") is None:
            if content:
                print(f"{where}: the document promises a body, none came")
                failures += 1
            checked += 1
            continue
        if not content or "application/json" not in content:
            print(f"{where}: a JSON body came, the document describes none")
            failures += 1
            continue
        schema = dict(content["application/json"]["schema"])
        # Resolve `#/components/...` against the document itself.
        if "$ref" in schema:
            schema = {"$ref": "urn:openapi" + schema["$ref"]}
        validator = OAS31Validator(schema, registry=registry)
        errors = sorted(validator.iter_errors(answer["body"]), key=str)
        for error in errors:
            # The rule broken, not the value: the value may be a token.
            rule = f"{error.validator}: {error.validator_value!r}"[:120]
            print(f"{where}: breaks {rule} at {list(error.absolute_path)}")
        failures += bool(errors)
        checked += 1
    print(f"{checked} answers conform, {failures} do not")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
