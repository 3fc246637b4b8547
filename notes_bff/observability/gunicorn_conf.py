"""A gunicorn configuration module, for running gunicorn yourself with what
``notes-bff serve --workers N`` sets (from the ``NOTES_BFF_*`` variables)::

    PROMETHEUS_MULTIPROC_DIR=/run/notes-bff-metrics gunicorn \\
        -c python:notes_bff.observability.gunicorn_conf notes_bff.server:gunicorn_app --workers 4
"""

import os

from notes_bff.config import Settings
from notes_bff.logs import configure_logging
from notes_bff.observability.gunicorn import MULTIPROC_DIR, options

if not os.environ.get(MULTIPROC_DIR):
    raise SystemExit(f"notes-bff: set {MULTIPROC_DIR} to a directory for the workers' metrics")
_settings = Settings()
configure_logging(_settings)
# gunicorn reads its settings from this module's names: bind, timeout, child_exit…
globals().update(options(_settings))
