"""The response cache: what an execution read (tags, with their versions as read), the
versions writes bump, and the entries kept in the process (L1) and in Redis (L2).
See docs/response-cache.md."""
