"""Hostile operations: depth, alias, cost and directive bombs (also inside fragments), tokens,
batches, suggestions, timeouts, and errors that must never leak."""

from __future__ import annotations

import itertools
import secrets
import uuid
from typing import Any

import pytest

from notes_bff.persisted.store import sha256_hex
from tests.conftest import Api


def _codes_and_message(reply: Any) -> tuple[list[str], str]:
    return reply.codes, reply.errors[0]["message"] if reply.errors else ""


async def _refused(
    api: Api, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> str:
    reply = await api.gql(query, variables, token=token)
    assert (reply.status, reply.codes) == (400, ["QUERY_TOO_COMPLEX"]), reply.body
    return str(reply.errors[0]["message"])


async def test_depth_bomb_inside_fragments(api: Api) -> None:
    user = await api.sign_up()
    # Depth 13 spread over fragments that each look shallow.
    query = """
    query { notes { ...A } }
    fragment A on NoteConnection { nodes { workspace { ...B } } }
    fragment B on Workspace { notes { nodes { workspace { ...C } } } }
    fragment C on Workspace { notes { nodes { workspace { notes { nodes { workspace { notes { nodes { title } } } } } } } } }
    """
    message = await _refused(api, query, token=user["token"])
    assert "depth is" in message and "over the limit of 12" in message


async def test_alias_bomb_through_a_fragment_spread_many_times(api: Api) -> None:
    fragment = "fragment F on User { a1: id a2: id a3: id a4: id a5: id }"
    spreads = " ".join(f"m{i}: me {{ ...F }}" for i in range(6))  # 6 aliases + 6 * 5 inside
    message = await _refused(api, f"query {{ {spreads} }} {fragment}")
    assert "aliases is 36, over the limit of 30 by 6" in message


async def test_cost_bomb_with_large_pages(api: Api) -> None:
    user = await api.sign_up()
    query = "{ notes(first: 100) { nodes { workspace { notes(first: 100) { nodes { title author { name } } } } } } }"
    message = await _refused(api, query, token=user["token"])
    assert "cost (objects it may return) is" in message and "over the limit of 10000" in message
    # The same shape with small pages passes, and variables count like literals.
    ok = "query($n: Int) { notes(first: $n) { nodes { workspace { notes(first: $n) { nodes { title } } } } } }"
    assert not (await api.gql(ok, {"n": 5}, token=user["token"])).errors
    assert "cost" in await _refused(api, ok, {"n": 100}, token=user["token"])


async def test_root_fields_and_directives(api: Api) -> None:
    roots = " ".join(f"f{i}: __typename" for i in range(21))
    assert "root fields is 21, over the limit of 20 by 1" in await _refused(api, f"{{ {roots} }}")
    directives = "{ me @include(if: true) @include(if: true) @skip(if: false) @skip(if: false) @include(if: true) { id } }"
    assert "directives on one field is 5" in await _refused(api, directives)


async def test_token_limit(api: Api) -> None:
    fields = " ".join("__typename" for _ in range(5001))
    message = await _refused(api, f"{{ {fields} }}")
    assert "more than 5000 tokens" in message


async def test_batches_are_refused(api: Api) -> None:
    resp = await api.client.post(
        "/graphql", json=[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]
    )
    assert resp.status == 400


async def test_deeply_nested_json_variables_are_400(api: Api) -> None:
    body = (
        '{"query": "query($f: NoteFilter) { notes(filter: $f) { totalCount } }", "variables": {"f": '
        + "[" * 5000
        + "]" * 5000
        + "}}"
    )
    resp = await api.client.post(
        "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400


async def test_field_suggestions_only_in_development(api: Api, other_app: Any) -> None:
    typo = "{ me { nmae } }"
    assert "Did you mean 'name'?" in (await api.gql(typo)).errors[0]["message"]
    async with other_app(field_suggestions=False) as hardened:
        reply = await hardened.gql(typo)
        assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
        assert "Did you mean" not in reply.errors[0]["message"]


async def test_operation_deadline(api: Api, other_app: Any) -> None:
    # Rendering 100,000 characters of `![` takes about a second of CPU (docs/security.md):
    # an operation waiting for it certainly outlives a 0.05 s deadline, on any machine.
    user = await api.sign_up()
    ws = await api.workspace(user)
    note = await api.note(user, ws, content="deadline " + secrets.token_hex(4) + "![" * 49_990)
    async with other_app(operation_timeout_seconds=0.05) as slow:
        reply = await slow.gql(
            "query($n: ID!) { note(id: $n) { contentHtml } }",
            {"n": note["id"]},
            token=user["token"],
        )
        assert (reply.status, reply.codes) == (503, ["SERVICE_UNAVAILABLE"])
        assert "did not finish within 0.05 s" in reply.errors[0]["message"]


@pytest.mark.parametrize("production", [False, True])
async def test_introspection_and_graphiql_by_environment(other_app: Any, production: bool) -> None:
    overrides: dict[str, Any] = {"graphiql": not production, "introspection": not production}
    async with other_app(**overrides) as api:
        reply = await api.gql("{ __schema { queryType { name } } }")
        page = await api.client.get("/graphql", headers={"Accept": "text/html"})
        if production:
            assert reply.codes and set(reply.codes) == {"GRAPHQL_VALIDATION_FAILED"}
            assert page.status != 200 or "graphiql" not in (await page.text()).lower()
        else:
            assert reply.data == {"__schema": {"queryType": {"name": "Query"}}}
            assert page.status == 200


async def test_circular_introspection_is_bounded(api: Api) -> None:
    nested = "name"
    for _ in range(12):
        nested = f"fields {{ type {{ {nested} }} }}"
    message = await _refused(api, f"{{ __schema {{ types {{ {nested} }} }} }}")
    assert "depth is" in message


async def test_the_standard_introspection_query_passes(api: Api) -> None:
    # What GraphiQL and graphql-codegen send: its `ofType` chain is deep but harmless.
    from graphql import get_introspection_query

    reply = await api.gql(get_introspection_query(descriptions=True))
    assert reply.status == 200 and not reply.errors
    assert reply.data["__schema"]["queryType"]["name"] == "Query"


def _fragment_bomb(operation: str = "") -> str:
    """Under 1 KB: each of 30 fragments spreads the next one twice, 2**30 aliased fields."""
    names = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcde"
    chain = " ".join(
        f"fragment {a} on Query{{...{b} ...{b}}}" for a, b in itertools.pairwise(names)
    )
    return f"{operation}{{...A}} {chain} fragment {names[-1]} on Query{{a:__typename}}"


BOMB_PROBLEMS = (
    "aliases is 1073741824, over the limit of 30 by 1073741794",
    "root fields is 1073741824, over the limit of 20 by 1073741804",
)


async def test_an_exponential_fragment_bomb_under_1kb_is_refused(api: Api) -> None:
    # Analysed without expanding its 2**30 fields (the analysis's work is counted in
    # tests/unit/schema/test_limit_analysis.py); expanded, it kept a worker busy for minutes.
    query = _fragment_bomb()
    assert len(query.encode()) < 1024
    message = await _refused(api, query)
    assert all(problem in message for problem in BOMB_PROBLEMS), message


async def test_the_fragment_bomb_in_one_of_several_operations(api: Api) -> None:
    query = _fragment_bomb("query Small { __typename } query Bomb ")

    async def run(operation_name: str) -> Any:
        resp = await api.client.post(
            "/graphql", json={"query": query, "operationName": operation_name}
        )
        return resp.status, await resp.json()

    status, body = await run("Bomb")
    assert (status, body["errors"][0]["extensions"]["code"]) == (400, "QUERY_TOO_COMPLEX")
    assert all(problem in body["errors"][0]["message"] for problem in BOMB_PROBLEMS)
    assert await run("Small") == (200, {"data": {"__typename": "Query"}})


PAGES = (
    "notes(first: {0}) {{ nodes {{ workspace {{ notes(first: {0}) {{ nodes {{ title }} }} }} }} }}"
)


async def test_a_variable_default_costs_as_the_literal(api: Api) -> None:
    user = await api.sign_up()
    costs = [
        (await api.ok(query, variables, token=user["token"]))["rateLimit"]["cost"]
        for query, variables in [
            ("{ notes(first: 50) { nodes { id } } rateLimit { cost } }", {}),
            ("query($f: Int = 50) { notes(first: $f) { nodes { id } } rateLimit { cost } }", {}),
            (
                "query($f: Int = 9) { notes(first: $f) { nodes { id } } rateLimit { cost } }",
                {"f": 50},
            ),
        ]
    ]
    assert costs == [costs[0]] * 3 and costs[0] > 100
    literal = await _refused(api, "{ " + PAGES.format(100) + " }", token=user["token"])
    defaulted = "query($f: Int = 100) { " + PAGES.format("$f") + " }"
    assert await _refused(api, defaulted, token=user["token"]) == literal


async def test_a_persisted_document_is_checked_with_each_requests_variables(api: Api) -> None:
    user = await api.sign_up()
    query = f"query Pages($n: Int) {{ p{uuid.uuid4().hex[:8]}: " + PAGES.format("$n") + " }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    headers = {"Authorization": f"Bearer {user['token']}"}
    registered = await api.client.post(
        "/graphql",
        json={"query": query, "variables": {"n": 2}, "extensions": extensions},
        headers=headers,
    )
    assert registered.status == 200 and "errors" not in await registered.json()
    # By hash, validated before: the cost limit still applies to these variables.
    resp = await api.client.post(
        "/graphql", json={"variables": {"n": 100}, "extensions": extensions}, headers=headers
    )
    body = await resp.json()
    assert (resp.status, body["errors"][0]["extensions"]["code"]) == (400, "QUERY_TOO_COMPLEX")
    assert "cost (objects it may return) is" in body["errors"][0]["message"]


def _doubling(levels: int) -> str:
    """Every field twice at every depth: 2**levels fields share one response path."""
    chain = ["notes(first: 1)", "nodes", "workspace"] * 4

    def build(i: int) -> str:
        return "id" if i == levels else " ".join([f"{chain[i]} {{ {build(i + 1)} }}"] * 2)

    return "{ " + build(0) + " }"


async def test_field_merging_validation_over_its_budget_is_too_complex(api: Api) -> None:
    # Within every operation limit, but graphql-core's field merging compares its 512 leaves
    # pairwise (counted in tests/unit/schema/test_limit_analysis.py).
    user = await api.sign_up()
    message = await _refused(api, _doubling(9), token=user["token"])
    assert message == (
        "The operation is too complex: "
        "validating it is over the limit of 50000 comparisons of fields."
    )
