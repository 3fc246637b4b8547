"""Every Lua script, MULTI/EXEC transaction and multi-key command of the server touches one
hash slot, so that a Redis Cluster runs it (it refuses anything else with CROSSSLOT).

A static check of the source: the keys each call site passes are rebuilt from its code, every
variable standing for an id of its own (two ids are different ids), and their slots compared
with redis-py's ``key_slot``. Scripts must reach keys only through ``KEYS``; the shard
channel a script publishes on (``SPUBLISH``, an ``ARGV``) is checked with the script's keys,
since a Cluster refuses a shard channel outside the script's slot too. The keys of the
collaboration reader's ``XREAD`` are built at run time from the open notes, so that call is
checked by running its code instead (``CHECKED_AT_RUN_TIME``).
"""

from __future__ import annotations

import ast
import copy
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

import notes_bff
from notes_bff.collab import keys as collab_keys
from notes_bff.collab.reader import LogReader

SOURCE = Path(notes_bff.__file__).parent
# Sites whose keys only exist at run time, with the test that checks them.
CHECKED_AT_RUN_TIME = {"notes_bff.collab.reader._xread": "test_each_collab_read_names_one_slot"}
# Commands of Lua scripts whose first argument is not a key. SPUBLISH's shard channel is an
# ARGV: the call site's channel argument is checked with its keys (``_sites``).
KEYLESS = {"PUBLISH", "SPUBLISH", "TIME"}
# redis-py methods that always name several keys (a Cluster runs them within one slot).
MULTI_KEY = {
    "mget", "mset", "msetnx", "rename", "renamenx", "smove", "sinterstore", "sunionstore",
    "sdiffstore", "zunionstore", "zinterstore", "zdiffstore", "zrangestore", "lmove", "blmove",
    "rpoplpush", "brpoplpush", "copy", "pfmerge", "bitop", "sintercard", "zintercard",
    "sinter", "sunion", "sdiff", "zunion", "zinter", "zdiff", "xread", "xreadgroup", "blpop",
    "brpop", "blmpop", "lmpop", "bzpopmin", "bzpopmax", "bzmpop", "zmpop", "pfcount",
}  # fmt: skip
# ...and those that do with more than one key argument.
VARIADIC = {"delete", "unlink", "exists", "touch"}
_REDIS_RECEIVER = re.compile(r"redis|pipe|client", re.IGNORECASE)
_CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")


@dataclass
class Site:
    """One place that sends keys which must share a slot."""

    where: str
    keys: list[ast.expr]
    function: ast.AST | None
    module: str


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE.parent)
        yield ".".join(relative.with_suffix("").parts), ast.parse(path.read_text())


def _functions(tree: ast.Module) -> Iterator[tuple[ast.AST | None, ast.AST]]:
    """Every node with the function that encloses it (None at module level)."""
    stack: list[tuple[ast.AST | None, ast.AST]] = [(None, tree)]
    while stack:
        function, node = stack.pop()
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            yield inner, child
            stack.append((inner, child))


def _transaction(with_item: ast.withitem) -> str | None:
    """The ``as`` name of ``redis.pipeline()`` when it is a MULTI/EXEC transaction."""
    call = with_item.context_expr
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "pipeline"
        and isinstance(with_item.optional_vars, ast.Name)
    ):
        return None
    flag: ast.expr | None = call.args[0] if call.args else None
    for keyword in call.keywords:
        if keyword.arg == "transaction":
            flag = keyword.value
    if isinstance(flag, ast.Constant) and not flag.value:
        return None
    return with_item.optional_vars.id


def _on_redis(func: ast.expr) -> bool:
    """Whether a call's receiver is a Redis client or pipeline (``self.redis``, ``pipe``…),
    not a file path's ``rename`` or ``unlink``."""
    return isinstance(func, ast.Attribute) and bool(_REDIS_RECEIVER.search(ast.unparse(func.value)))


def _sites() -> Iterator[Site]:
    for module, tree in _modules():
        for function, node in _functions(tree):
            where = f"{module}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                arguments = {k.arg: k.value for k in node.keywords}
                if "keys" in arguments:  # a script, with the shard channels among its args
                    channels = [
                        arg
                        for arg in getattr(arguments.get("args"), "elts", [])
                        if "channel(" in ast.unparse(arg)
                    ]
                    yield Site(where, [arguments["keys"], *channels], function, module)
                name = node.func.attr if _on_redis(node.func) else ""
                if name in MULTI_KEY or (name in VARIADIC and len(node.args) > 1):
                    yield Site(where, list(node.args), function, module)
                command = node.args[0] if node.args else None
                if (
                    name == "execute_command"
                    and isinstance(command, ast.Constant)
                    and str(command.value).lower() in MULTI_KEY
                ):
                    yield Site(where, list(node.args[1:]), function, module)
            if isinstance(node, ast.AsyncWith | ast.With):
                for item in node.items:
                    pipe = _transaction(item)
                    if pipe is None:
                        continue
                    keys = [
                        call.args[0]
                        for inner in node.body
                        for call in ast.walk(inner)
                        if isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and isinstance(call.func.value, ast.Name)
                        and call.func.value.id == pipe
                        and call.func.attr != "execute"
                        and call.args
                    ]
                    yield Site(where, keys, function, module)


class _Concrete(ast.NodeTransformer):
    """Local names become the values they were assigned in the function, or else (arguments,
    attributes) a string of their own; module-level names keep their values."""

    def __init__(self, function: ast.AST | None, module: dict[str, Any]) -> None:
        self.assigned: dict[str, ast.expr] = {}
        self.module = module
        self.resolving: set[str] = set()
        for node in ast.walk(function) if function is not None else ():
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.assigned[target.id] = node.value

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.assigned and node.id not in self.resolving:
            self.resolving.add(node.id)
            try:
                return self.generic_visit(copy.deepcopy(self.assigned[node.id]))  # type: ignore[return-value]
            finally:
                self.resolving.discard(node.id)
        if node.id in self.module:
            return node
        return ast.Constant(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        return ast.Constant(ast.unparse(node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.expr:
        node.value = self.visit(node.value)
        node.format_spec = None  # ``{x:g}`` of a stand-in string
        return node


def _name(site: Site) -> str:
    return f"{site.module}.{getattr(site.function, 'name', '')}"


def _keys(site: Site) -> list[str]:
    namespace = vars(importlib.import_module(site.module))
    concrete = _Concrete(site.function, namespace)
    values: list[Any] = []
    for expr in site.keys:
        tree = ast.fix_missing_locations(ast.Expression(concrete.visit(copy.deepcopy(expr))))
        value = eval(compile(tree, site.where, "eval"), namespace)  # noqa: S307 - our source
        values.extend(value if isinstance(value, list | tuple | dict) else [value])
    return [str(v) for v in values]


def _scripts() -> Iterator[tuple[str, str]]:
    for module, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and "redis.call(" in str(node.value):
                yield f"{module}:{node.lineno}", str(node.value)


def test_the_check_sees_every_kind_of_site() -> None:
    """Scripts, a transaction, a multi-key read: if these disappear, the check went blind."""
    wheres = {site.where.split(":")[0] for site in _sites()}
    assert {
        "notes_bff.ratelimit",
        "notes_bff.realtime.event_log",
        "notes_bff.realtime.connections",
        "notes_bff.realtime.presence",
        "notes_bff.collab.store",
        "notes_bff.collab.service",
    } <= wheres
    assert len(list(_scripts())) >= 5
    assert {_name(site) for site in _sites()} >= set(CHECKED_AT_RUN_TIME)


@pytest.mark.parametrize(
    "site",
    [site for site in _sites() if _name(site) not in CHECKED_AT_RUN_TIME],
    ids=lambda site: site.where,
)
def test_keys_of_one_call_share_a_slot(site: Site) -> None:
    keys = _keys(site)
    assert keys, f"{site.where}: no keys found"
    slots = {key: key_slot(key.encode()) for key in keys}
    assert len(set(slots.values())) == 1, f"{site.where}: keys in several slots {slots}"


@pytest.mark.parametrize(("where", "lua"), list(_scripts()), ids=lambda v: str(v)[:40])
def test_scripts_reach_keys_only_through_keys_array(where: str, lua: str) -> None:
    for command, first in _CALL.findall(lua):
        if command.upper() not in KEYLESS and first:
            assert first.strip().startswith("KEYS["), f"{where}: {command} {first} is not in KEYS"


def test_per_workspace_keys_carry_the_workspace_hash_tag() -> None:
    from notes_bff.realtime.event_log import stream_key

    assert key_slot(stream_key("65f0c0ffee").encode()) == key_slot(b"{ws:65f0c0ffee}")
    assert key_slot(stream_key("a").encode()) != key_slot(stream_key("b").encode())


def test_the_append_script_publishes_on_the_shard_channel_of_its_log() -> None:
    [site] = [s for s in _sites() if s.where.startswith("notes_bff.realtime.event_log")]
    keys = _keys(site)
    assert len(keys) == 2 and "notes-bff:events:{ws:" in keys[1], keys


def test_shard_channels_carry_the_hash_tag_of_their_keys() -> None:
    from notes_bff.realtime.event_log import stream_key
    from notes_bff.realtime.events import presence_topic, shard_channel, user_topic
    from notes_bff.realtime.events import workspace_topic as ws_topic

    workspace, user = "65f0c0ffee", "65f0beef"
    for topic in (ws_topic(workspace), presence_topic(workspace)):
        channel = shard_channel(topic) or ""
        assert key_slot(channel.encode()) == key_slot(stream_key(workspace).encode()), channel
    assert key_slot((shard_channel(user_topic(user)) or "").encode()) == key_slot(b"{u:65f0beef}")
    assert shard_channel(ws_topic("a")) != shard_channel(ws_topic("b"))
    assert shard_channel("revocations") is None  # every process: the global channel


def test_collab_buckets_spread_over_the_slot_space() -> None:
    """Bucket b's tag lies in the b-th share of the slots (primaries holding equal ranges get
    equal shares); a note's keys share its bucket's slot, whatever the note."""
    share = REDIS_CLUSTER_HASH_SLOTS // collab_keys.BUCKETS
    assert [key_slot(tag.encode()) // share for tag in collab_keys.TAGS] == list(
        range(collab_keys.BUCKETS)
    )
    notes = [f"{n:024x}" for n in range(0, 2000 * 7919, 7919)]
    for note in notes:
        slot = key_slot(collab_keys.dirty_key(note).encode())
        assert key_slot(collab_keys.log_key(note).encode()) == slot
        assert key_slot(collab_keys.awareness_key(note).encode()) == slot
    assert {collab_keys.bucket_of(note) for note in notes} == set(range(collab_keys.BUCKETS))
    for bucket, members in collab_keys.by_bucket(notes).items():  # one transaction each
        slots = {key_slot(collab_keys.log_key(note).encode()) for note in members}
        assert slots == {key_slot(collab_keys.dirty_key_of_bucket(bucket).encode())}


@dataclass
class _Position:
    """What the reader reads of a room: its note and the last ids it has seen."""

    note_id: str
    last_id: str = "1-0"
    awareness_id: str = "2-0"


@pytest.mark.parametrize("cluster", [True, False], ids=["cluster", "one server"])
def test_each_collab_read_names_one_slot(cluster: bool) -> None:
    """The reader's XREADs for 500 open notes: on a Cluster one per bucket, each within one
    slot; on one server a single read of them all."""
    redis = (
        RedisCluster(host="127.0.0.1", port=7000) if cluster else Redis(host="127.0.0.1", port=1)
    )  # not connected: only its kind matters
    rooms = {n: _Position(n) for n in (f"{i:024x}" for i in range(0, 500 * 104729, 104729))}
    reader = LogReader(redis, redis, rooms, "process", 60.0)  # type: ignore[arg-type]
    reads = {reader.read_of(note) for note in rooms}
    assert len(reads) == (collab_keys.BUCKETS if cluster else 1)
    named = set()
    for read in reads:
        streams = reader.streams(read, "0-0")
        named |= set(streams)
        slots = {key_slot(key.encode()) for key in streams}
        assert len(slots) == 1 or not cluster, f"read {read}: {len(slots)} slots"
    assert len(named) == 2 * len(rooms) + len(reads)  # every log and awareness stream, once
