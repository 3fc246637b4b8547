// Apollo Client 4 (clients/apollo.mjs) against `notes-bff serve --workers 2` as a browser app
// uses it: cookies (a tough-cookie jar plays the browser's part), the CSRF header, CORS from
// the app's origin, the normalized cache, pagination, optimistic updates and refresh on
// UNAUTHENTICATED. Usage: node apollo.mjs URL APP_ORIGIN ; prints one JSON object.
import { gql } from "@apollo/client";
import makeFetchCookie from "fetch-cookie";
import { CookieJar } from "tough-cookie";
import { appendNotes, createApolloClient } from "./clients/apollo.mjs";
import { expiresAt, sleep } from "./lib/api.mjs";

const [url, appOrigin] = process.argv.slice(2);
const uri = `${url}/graphql`;
const jar = new CookieJar();
const cookieFetch = makeFetchCookie(globalThis.fetch, jar);
const warnings = [];
console.warn = (...args) => warnings.push(args.join(" "));

// Every request the client makes, as the server answered it.
const log = [];
const fetch = async (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("origin", appOrigin); // what a browser sends from the app's page
  const response = await cookieFetch(input, { ...init, headers });
  const body = await response.clone().json();
  const sent = JSON.parse(init.body);
  log.push({
    operation: sent.operationName ?? sent.query.match(/(?:query|mutation) (\w+)/)[1],
    status: response.status,
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
    allowOrigin: response.headers.get("access-control-allow-origin"),
    allowCredentials: response.headers.get("access-control-allow-credentials"),
    exposed: response.headers.get("access-control-expose-headers"),
    rateLimit: ["limit", "remaining", "reset"].map((h) => response.headers.get(`x-ratelimit-${h}`)),
  });
  return response;
};
const client = createApolloClient({ uri, fetch });
const until = async (predicate) => {
  for (let i = 0; i < 200 && !predicate(); i += 1) await sleep(25);
  if (!predicate()) throw new Error("timed out");
};
const accessCookie = async () =>
  (await jar.getCookies(uri)).find((cookie) => cookie.key === "nb_access")?.value;

const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { user { id name email } }
  }
`;
const ME = gql`query Me { me { id name email } }`;
const CREATE_WORKSPACE = gql`
  mutation CreateWorkspace($input: CreateWorkspaceInput!) {
    createWorkspace(input: $input) { id name viewerRole }
  }
`;
const CREATE_NOTE = gql`
  mutation CreateNote($input: CreateNoteInput!) {
    createNote(input: $input) { id title version priority }
  }
`;
const DASHBOARD = gql`
  query Dashboard {
    dashboard {
      stats { totalNotes byPriority { priority count } }
      recent(first: 3) { id title workspace { id name } }
    }
  }
`;
// #region apollo-pagination-query
const WORKSPACE_NOTES = gql`
  query WorkspaceNotes($workspaceId: ID!, $first: Int!, $after: String) {
    notes(workspaceId: $workspaceId, first: $first, after: $after, sort: CREATED_AT_ASC) {
      edges { cursor node { id title version } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
// #endregion apollo-pagination-query
const UPDATE_NOTE = gql`
  mutation UpdateNote($id: ID!, $input: UpdateNoteInput!, $expectedVersion: Int) {
    updateNote(id: $id, input: $input, expectedVersion: $expectedVersion) { id title version }
  }
`;
const NOTE_FIELDS = gql`fragment NoteFields on Note { title version }`;

const report = { warnings };
const email = `apollo-${Date.now()}@example.com`;
const signedUp = await client.mutate({
  mutation: SIGN_UP,
  variables: { input: { email, password: "correct horse battery", name: "Apollo User" } },
});
report.user = signedUp.data.signUp.user;
report.cookies = (await jar.getCookies(uri)).map((c) => `${c.key};${c.path};${c.sameSite};${c.httpOnly}`);
report.me = (await client.query({ query: ME })).data.me;

const workspace = (
  await client.mutate({ mutation: CREATE_WORKSPACE, variables: { input: { name: "Apollo team" } } })
).data.createWorkspace;
report.workspace = workspace;
for (let i = 1; i <= 7; i += 1) {
  const priority = i % 3 === 0 ? "HIGH" : "LOW";
  await client.mutate({
    mutation: CREATE_NOTE,
    variables: { input: { workspaceId: workspace.id, title: `Note ${i}`, priority } },
  });
}
report.dashboard = (await client.query({ query: DASHBOARD })).data.dashboard;

// Pagination: one watched query, grown page by page with fetchMore over the cursors.
const watched = client.watchQuery({
  query: WORKSPACE_NOTES,
  variables: { workspaceId: workspace.id, first: 3 },
});
const emissions = [];
watched.subscribe((result) => {
  if (result.data?.notes) emissions.push(result.data.notes.edges.map((e) => e.node.title));
});
await until(() => emissions.length > 0);
const pageSizes = [emissions.at(-1).length];
let { pageInfo } = watched.getCurrentResult().data.notes;
// #region apollo-fetch-more
while (pageInfo.hasNextPage) {
  const page = await watched.fetchMore({
    variables: { after: pageInfo.endCursor },
    updateQuery: appendNotes,
  });
  ({ pageInfo } = page.data.notes);
  pageSizes.push(page.data.notes.edges.length);
}
// #endregion apollo-fetch-more
await until(() => emissions.at(-1).length === 7);
const edges = watched.getCurrentResult().data.notes.edges;
report.pagination = {
  titles: edges.map((e) => e.node.title),
  pageSizes,
  distinctCursors: new Set(edges.map((e) => e.cursor)).size,
  requests: log.filter((entry) => entry.operation === "WorkspaceNotes").length,
};

// An optimistic rename: shown at once, then replaced by the server's answer (which collapses
// the whitespace and increments the version); a conflicting one is rolled back.
const target = edges[1].node;
const noteId = client.cache.identify(target);
const fragment = (optimistic) =>
  client.cache.readFragment({ id: noteId, fragment: NOTE_FIELDS }, optimistic);
// #region apollo-optimistic
const rename = (note, title) =>
  client.mutate({
    mutation: UPDATE_NOTE,
    variables: { id: note.id, input: { title }, expectedVersion: note.version },
    optimisticResponse: {
      updateNote: { __typename: "Note", id: note.id, title, version: note.version + 1 },
    },
  });
// #endregion apollo-optimistic
const renaming = rename(target, "  Renamed   by Apollo ");
report.optimistic = {
  shown: fragment(true),
  listShown: emissions.at(-1)[1],
};
await renaming;
report.optimistic.confirmed = fragment(false);
await until(() => emissions.at(-1)[1] === report.optimistic.confirmed.title);
report.optimistic.listConfirmed = emissions.at(-1)[1];
const stale = rename(target, "Stale rename"); // target.version is one behind now
report.optimistic.staleShown = fragment(true).title;
report.optimistic.staleError = await stale.then(
  () => null,
  (error) => error.errors?.map((e) => e.extensions.code),
);
report.optimistic.afterRollback = fragment(true);

// The access cookie expires with its token: the next operation that needs a user is
// UNAUTHENTICATED, the error link refreshes (nb_refresh cookie) and retries it once.
const before = await accessCookie();
await sleep(expiresAt(before) - Date.now() + 1200);
report.expiredCookieDropped = (await accessCookie()) === undefined;
const mark = log.length;
report.afterExpiry = (await client.query({ query: DASHBOARD, fetchPolicy: "network-only" })).data;
report.refreshLog = log.slice(mark).map(({ operation, codes }) => `${operation}:${codes.join(",")}`);
report.newAccessToken = ((await accessCookie()) ?? before) !== before;

// Normalization: one cache entry per object with an id, referenced everywhere it appears.
const cache = client.cache.extract();
report.normalized = {
  entities: Object.keys(cache).filter((key) => key !== "ROOT_QUERY" && key !== "ROOT_MUTATION"),
  me: cache.ROOT_QUERY.me,
  recentWorkspace: cache[`Note:${report.dashboard.recent[0].id}`].workspace,
};

// CSRF prevention: a cookie-authenticated GET needs a header a form cannot send.
const get = (headers) => cookieFetch(`${uri}?query=${encodeURIComponent("{ me { id } }")}`, { headers });
const refused = await get({});
const allowed = await get({ "apollo-require-preflight": "true" });
report.csrf = {
  withoutHeader: [refused.status, (await refused.json()).errors[0].extensions.code],
  withHeader: [allowed.status, (await allowed.json()).data.me.id],
};

// CORS: the app's origin may send credentials and the CSRF header; another origin may not.
const preflight = async (origin) => {
  const response = await globalThis.fetch(uri, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,apollo-require-preflight",
    },
  });
  return {
    status: response.status,
    allowOrigin: response.headers.get("access-control-allow-origin"),
    allowCredentials: response.headers.get("access-control-allow-credentials"),
    allowHeaders: response.headers.get("access-control-allow-headers"),
  };
};
report.cors = {
  preflight: await preflight(appOrigin),
  otherOrigin: await preflight("https://evil.example"),
  everyResponse: [...new Set(log.map((e) => `${e.allowOrigin} ${e.allowCredentials}`))],
  exposed: [...new Set(log.map((e) => e.exposed))],
};
// Rate-limit headers on every answer, readable from the app's origin (exposed above).
report.rateLimits = log.map((e) => [e.operation, ...e.rateLimit.map(Number)]);
report.requests = log.length;
console.log(JSON.stringify(report));
