"""A safety net under the tags: an execution that reads a collection none of its declared
tags covers (a new field reading MongoDB directly, say) is not cached, instead of being
served stale."""

from __future__ import annotations

from pymongo import monitoring

from notes_bff.response_cache import tags
from notes_bff.response_cache.reads import current

READ_COMMANDS = frozenset({"find", "aggregate", "count", "distinct"})
# Which tag kinds, once read, cover the reads of each collection.
COVERED_BY = {
    "notes": (tags.NOTE, tags.WORKSPACE_NOTES),
    "workspaces": (tags.WORKSPACE, tags.MEMBERSHIPS),
    "users": (tags.USER,),
    "notifications": (tags.NOTIFICATIONS,),
}


class UndeclaredReads(monitoring.CommandListener):
    """pymongo calls it in the task that runs the command, so it sees that task's record."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Mark the execution uncacheable when this read is not covered by its tags."""
        reads = current()
        if reads is None or event.command_name not in READ_COMMANDS:
            return
        kinds = COVERED_BY.get(str(event.command.get(event.command_name)), ())
        if not any(tag.partition(":")[0] in kinds for tag in reads.read):
            reads.cacheable = False

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to do once it answered."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to do once it failed."""
