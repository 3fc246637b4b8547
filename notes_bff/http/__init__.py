"""The HTTP layer: the GraphQL view, middlewares and operational endpoints."""
