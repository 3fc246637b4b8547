// Apollo Client 4 for notes-bff, signed in by cookie. docs/frontend.md shows the regions below
// (between "#region" and "#endregion"); tests/js/apollo.mjs runs them.
// #region apollo
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { CombinedGraphQLErrors } from "@apollo/client/errors";
import { ErrorLink } from "@apollo/client/link/error";
import { from, switchMap } from "rxjs";

const REFRESH = JSON.stringify({
  query: "mutation RefreshSession { refreshSession { accessTokenExpiresAt } }",
});

export function createApolloClient({ uri, fetch = globalThis.fetch }) {
  // One refresh at a time, shared by every operation that needed it meanwhile. The refresh
  // token is the nb_refresh cookie (HttpOnly, Path=/graphql): nothing to keep in JavaScript.
  let refreshing = null;
  const refreshSession = () =>
    (refreshing ??= fetch(uri, {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "application/json" },
      body: REFRESH,
    })
      .then((response) => response.json())
      .then(({ errors }) => {
        if (errors) throw new CombinedGraphQLErrors({ errors }); // signed out: show the log-in
      })
      .finally(() => {
        refreshing = null;
      }));

  // UNAUTHENTICATED: the access token expired (or its cookie did). Refresh, then retry once.
  const refreshOnUnauthenticated = new ErrorLink(({ error, operation, forward }) => {
    const unauthenticated =
      CombinedGraphQLErrors.is(error) &&
      error.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
    if (!unauthenticated || operation.getContext().retried) return undefined;
    operation.setContext({ retried: true });
    return from(refreshSession()).pipe(switchMap(() => forward(operation)));
  });

  return new ApolloClient({
    link: ApolloLink.from([
      refreshOnUnauthenticated,
      new HttpLink({
        uri,
        fetch,
        credentials: "include", // cookies, also from another origin of the site (CORS)
        headers: { "apollo-require-preflight": "true" }, // CSRF prevention lets GETs through
      }),
    ]),
    // Nothing to configure: every object with an identity has `id` (and `__typename`).
    cache: new InMemoryCache(),
  });
}
// #endregion apollo

// #region apollo-pagination
// fetchMore's merge for a NoteConnection: the next page's edges after the ones shown.
export const appendNotes = (previous, { fetchMoreResult }) => ({
  ...previous,
  notes: {
    ...fetchMoreResult.notes,
    edges: [...previous.notes.edges, ...fetchMoreResult.notes.edges],
  },
});
// #endregion apollo-pagination
