"""The development SMTP server: every message it receives is written to a directory as an
``.eml`` file (``python -m notes_bff.email.dev_smtp --port N --dir DIR``).

``notes-bff serve`` starts it (notes_bff/embedded.py) when no ``NOTES_BFF_SMTP_HOST`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class SaveToDirectory:
    """An aiosmtpd handler writing each message to ``<dir>/<time>-<random>.eml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the message atomically (readers never see half a file)."""
        content = envelope.original_content or b""
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(content)
        partial.rename(self.directory / name)
        return "250 Message accepted for delivery"


async def serve(port: int, directory: Path) -> None:
    """Accept SMTP on 127.0.0.1:``port`` until cancelled."""
    handler = SaveToDirectory(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    """The command line."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--dir", type=Path, required=True)
    parsed = args.parse_args()
    parsed.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(parsed.port, parsed.dir))


if __name__ == "__main__":
    main()
