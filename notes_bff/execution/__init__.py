"""The GraphQL execution pipeline: the context every resolver gets, operation limits and
cost, rate-limit points, error codes and masking, the persisted-document cache, and the
shared rendering of subscription events. Independent of the schema's types."""
