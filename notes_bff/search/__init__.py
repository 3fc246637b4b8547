"""Full-text search: the engine, its indexer, the search service and suggestion extraction.

Transport-free: callers pass the viewer, the workspaces they belong to, Beanie models and a
Redis client, never a request. See docs/search.md.
"""
