"""What operators see: per-operation metrics and logs, traces, health probes, and the
gunicorn settings that keep them right across workers (docs/operations.md)."""
