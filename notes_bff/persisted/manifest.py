"""Trusted-document manifests: Apollo's persisted-query manifest or a plain hash→text map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate

from notes_bff.persisted.store import sha256_hex

APOLLO_FORMAT = "apollo-persisted-query-manifest"


class ManifestError(Exception):
    """A manifest refused whole; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Operation:
    """One operation to register."""

    digest: str
    body: str
    name: str | None
    operation_type: str | None


def _entries(raw: Any) -> list[tuple[Any, Any, Any, Any]]:
    """(id, body, name, type) of every operation, in either format."""
    if isinstance(raw, dict) and raw.get("format") == APOLLO_FORMAT:
        if raw.get("version") != 1:
            raise ManifestError([f"unsupported {APOLLO_FORMAT} version {raw.get('version')!r}"])
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError(["'operations' must be a list"])
        return [
            (op.get("id"), op.get("body"), op.get("name"), op.get("type"))
            if isinstance(op, dict)
            else (None, None, None, None)
            for op in operations
        ]
    if isinstance(raw, dict) and "format" not in raw:
        return [(digest, body, None, None) for digest, body in raw.items()]
    raise ManifestError([f"expected an {APOLLO_FORMAT} (version 1) or a {{sha256: document}} map"])


def read_manifest(raw: Any, schema: GraphQLSchema) -> list[Operation]:
    """Every operation of the manifest, each hash verified and document validated.

    Raises ``ManifestError`` listing every problem when any operation is wrong.
    """
    problems: list[str] = []
    operations: list[Operation] = []
    for index, (digest, body, name, op_type) in enumerate(_entries(raw)):
        where = f"operation {index + 1}" + (f" ({name})" if name else "")
        if not isinstance(digest, str) or not isinstance(body, str):
            problems.append(f"{where}: needs a string id/hash and a string body")
            continue
        if sha256_hex(body) != digest:
            problems.append(f"{where}: hash {digest} is not the SHA-256 of its body")
            continue
        try:
            document = parse(body)
        except GraphQLError as exc:
            problems.append(f"{where}: does not parse: {exc.message}")
            continue
        errors = validate(schema, document)
        if errors:
            problems += [f"{where}: {error.message}" for error in errors]
            continue
        kinds = [
            d.operation.value
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        operations.append(Operation(digest, body, name, op_type or (kinds[0] if kinds else None)))
    if problems:
        raise ManifestError(problems)
    if not operations:
        raise ManifestError(["the manifest holds no operations"])
    return operations
