"""Email delivery: the outbox, its sender, templates, unsubscribe tokens and the development
SMTP server (docs/operations.md#email)."""
