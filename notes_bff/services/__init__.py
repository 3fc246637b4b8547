"""Business rules behind the root fields: authorization, validation, reads and writes.

Resolvers work on Beanie documents and plain values; the GraphQL layer (``schema``) wraps
what they return.
"""
