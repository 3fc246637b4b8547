"""Trusted-document manifests: Apollo's format or a plain hash→document map, every hash
verified and every document validated against the schema; a wrong manifest is refused whole,
listing every problem."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from notes_bff.persisted.manifest import ManifestError, Operation, read_manifest
from notes_bff.schema import build_schema

SCHEMA = build_schema()._schema
ME = "query Me { me { id name } }"
SIGN_OUT = "mutation SignOut { logOut }"
TYPO = "query Typo { me { nickname } }"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _apollo(*operations: Any, version: Any = 1) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": version,
        "operations": list(operations),
    }


def test_an_apollo_manifest_registers_each_operation() -> None:
    manifest = _apollo(
        {"id": _sha(ME), "body": ME, "name": "Me", "type": "query"},
        {"id": _sha(SIGN_OUT), "body": SIGN_OUT, "name": "SignOut"},
    )
    assert read_manifest(manifest, SCHEMA) == [
        Operation(_sha(ME), ME, "Me", "query"),
        Operation(_sha(SIGN_OUT), SIGN_OUT, "SignOut", "mutation"),  # type read from the body
    ]


def test_a_plain_map_registers_each_document() -> None:
    assert read_manifest({_sha(ME): ME}, SCHEMA) == [Operation(_sha(ME), ME, None, "query")]


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [
        ([ME], "expected an apollo-persisted-query-manifest (version 1)"),
        ({"format": "other", "operations": []}, "expected an apollo-persisted-query-manifest"),
        (_apollo(version=2), "unsupported apollo-persisted-query-manifest version 2"),
        ({**_apollo(), "operations": {}}, "'operations' must be a list"),
        (_apollo(), "the manifest holds no operations"),
        ({}, "the manifest holds no operations"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_refused(manifest: Any, problem: str) -> None:
    with pytest.raises(ManifestError) as refused:
        read_manifest(manifest, SCHEMA)
    assert refused.value.problems[0].startswith(problem)


def test_every_wrong_operation_is_reported_and_nothing_is_registered() -> None:
    manifest = _apollo(
        {"id": _sha(ME), "body": ME, "name": "Me"},
        {"id": _sha(ME), "body": SIGN_OUT, "name": "Swapped"},
        {"id": _sha("query {"), "body": "query {"},
        {"id": _sha(TYPO), "body": TYPO, "name": "Typo"},
        {"id": 1, "body": ME},
        "not an object",
    )
    with pytest.raises(ManifestError) as refused:
        read_manifest(manifest, SCHEMA)
    problems = refused.value.problems
    assert problems[0] == f"operation 2 (Swapped): hash {_sha(ME)} is not the SHA-256 of its body"
    assert problems[1].startswith("operation 3: does not parse: Syntax Error")
    assert problems[2].startswith("operation 4 (Typo): Cannot query field 'nickname'")
    assert problems[3:] == [
        "operation 5: needs a string id/hash and a string body",
        "operation 6: needs a string id/hash and a string body",
    ]
    assert str(refused.value) == "; ".join(problems)
