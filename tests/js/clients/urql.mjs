// urql for notes-bff with bearer tokens kept in memory. docs/frontend.md shows the region
// below; tests/js/urql.mjs runs it.
// #region urql
import { Client, cacheExchange, fetchExchange, gql, subscriptionExchange } from "@urql/core";
import { authExchange } from "@urql/exchange-auth";
import { createClient as createLiveClient } from "graphql-ws";

const REFRESH = gql`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { accessToken refreshToken }
  }
`;

// `session` holds the tokens: { accessToken, refreshToken, update(tokens), signOut() }.
export function createUrqlClient({ url, wsUrl, session, fetch, webSocketImpl }) {
  const live = createLiveClient({
    url: wsUrl,
    webSocketImpl,
    connectionParams: () => ({ authorization: `Bearer ${session.accessToken}` }),
    keepAlive: 10_000, // pings: proxies keep an idle websocket open
  });
  return new Client({
    url,
    fetch,
    exchanges: [
      cacheExchange, // the document cache: a mutation refetches the queries of its types
      authExchange(async (utils) => ({
        addAuthToOperation: (operation) =>
          session.accessToken
            ? utils.appendHeaders(operation, { authorization: `Bearer ${session.accessToken}` })
            : operation,
        didAuthError: (error) =>
          error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED"),
        async refreshAuth() {
          // utils.mutate skips this exchange; the refresh token rotates on every use.
          const result = await utils.mutate(REFRESH, { refreshToken: session.refreshToken });
          if (result.data) session.update(result.data.refreshSession);
          else session.signOut();
        },
      })),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: live.subscribe(request, sink) }),
        }),
      }),
    ],
  });
}
// #endregion urql
