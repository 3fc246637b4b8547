"""The notification preferences domain: its types, input and root fields."""

from __future__ import annotations

import strawberry

from notes_bff.errors import BadInput
from notes_bff.models import NotificationPreferences as PreferencesDoc
from notes_bff.schema.enums import NotificationKind
from notes_bff.schema.info import Info
from notes_bff.services import preferences
from notes_bff.services.preferences import ChannelChanges, PreferenceChanges


@strawberry.type
class NotificationKindPreferences:
    """The channels one kind of notification reaches."""

    kind: NotificationKind
    in_app: bool = strawberry.field(description="Stored in the app and pushed live.")
    email: bool = strawberry.field(
        description="Emailed while the user has no live connection (or in the daily digest)."
    )


@strawberry.type
class NotificationPreferences:
    """What the viewer is notified of, and how. Everything is on until changed."""

    kinds: list[NotificationKindPreferences] = strawberry.field(
        description="One entry per notification kind, in the enum's order."
    )
    muted_workspace_ids: list[strawberry.ID] = strawberry.field(
        description="Workspaces whose notifications are neither stored nor emailed."
    )
    daily_digest: bool = strawberry.field(
        description="Instead of an email per notification, one email a day listing the day's "
        "notifications."
    )

    @classmethod
    def of(cls, doc: PreferencesDoc) -> NotificationPreferences:
        """Wrap stored (or default) preferences."""
        kinds = [
            NotificationKindPreferences(
                kind=kind, in_app=doc.channels(kind).in_app, email=doc.channels(kind).email
            )
            for kind in NotificationKind
        ]
        muted = [strawberry.ID(str(ws)) for ws in doc.muted_workspace_ids]
        return cls(kinds=kinds, muted_workspace_ids=muted, daily_digest=doc.daily_digest)


@strawberry.input
class NotificationKindPreferencesInput:
    """New switches for one kind; an omitted switch stays as it is."""

    kind: NotificationKind
    in_app: bool | None = None
    email: bool | None = None


@strawberry.input
class NotificationPreferencesInput:
    """A partial update: omitted fields stay as they are."""

    kinds: list[NotificationKindPreferencesInput] | None = None
    muted_workspace_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The full new list (workspaces the viewer belongs to)."
    )
    daily_digest: bool | None = None

    def to_changes(self) -> PreferenceChanges:
        """The typed change; ``BAD_USER_INPUT`` for a kind given twice."""
        kinds: dict[NotificationKind, ChannelChanges] = {}
        for entry in self.kinds or []:
            if entry.kind in kinds:
                raise BadInput("input.kinds", f"{entry.kind.value} is given more than once.")
            kinds[entry.kind] = ChannelChanges(in_app=entry.in_app, email=entry.email)
        ids = self.muted_workspace_ids
        muted = None if ids is None else [str(i) for i in ids]
        return PreferenceChanges(
            kinds=kinds, muted_workspace_ids=muted, daily_digest=self.daily_digest
        )


@strawberry.type
class PreferencesQuery:
    """The preferences root fields of ``Query``."""

    @strawberry.field(description="The viewer's notification preferences.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        return NotificationPreferences.of(await preferences.my_preferences(info.context.actor))


@strawberry.type
class PreferencesMutation:
    """The preferences root fields of ``Mutation``."""

    @strawberry.mutation(description="Change some of the viewer's notification preferences.")
    async def update_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> NotificationPreferences:
        changed = await preferences.update_preferences(info.context.actor, input.to_changes())
        return NotificationPreferences.of(changed)
