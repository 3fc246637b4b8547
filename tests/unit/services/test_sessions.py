"""How a session's user agent is stored."""

from __future__ import annotations

from notes_bff.services.sessions import USER_AGENT_MAX, user_agent_line


def test_a_user_agent_is_one_clean_line() -> None:
    assert user_agent_line("  Mozilla/5.0\r\n (X11;\x00 Linux)\t") == "Mozilla/5.0 (X11; Linux)"


def test_a_long_user_agent_is_clipped() -> None:
    assert len(user_agent_line("a" * 10_000)) == USER_AGENT_MAX
