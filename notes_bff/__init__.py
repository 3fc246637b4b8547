"""notes-bff: the GraphQL backend-for-frontend of the notes dashboard."""
