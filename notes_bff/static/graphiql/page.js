// notes-bff's GraphiQL page: settings from the page's JSON block, queries and mutations over
// HTTP, subscriptions over graphql-transport-ws. Same-origin requests and the websocket
// upgrade carry the nb_access cookie that LogIn sets; headers typed in the Headers tab are
// sent with HTTP requests and as the websocket's connection_init payload.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("graphiql-config").textContent);
  // GraphiQL's dialogs insert <style> elements: they take this nonce, which the CSP allows.
  window.__webpack_nonce__ = document.currentScript.nonce;
  const endpoint = new URL(config.endpoint, window.location.href);
  const subscriptionUrl = new URL(endpoint);
  subscriptionUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  const fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: subscriptionUrl.href,
  });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: config.defaultQuery,
      defaultEditorToolsVisibility: "variables",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
