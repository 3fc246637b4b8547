// urql (clients/urql.mjs) against `notes-bff serve --workers 2`: bearer tokens, the document
// cache refetching after a mutation, a subscription, and refresh on UNAUTHENTICATED.
// Usage: node urql.mjs URL ; prints one JSON object.
import { gql } from "@urql/core";
import WebSocket from "ws";
import { createUrqlClient } from "./clients/urql.mjs";
import { expiresAt, sleep } from "./lib/api.mjs";

const [url] = process.argv.slice(2);
const log = [];
const fetch = async (input, init = {}) => {
  const response = await globalThis.fetch(input, init);
  const body = await response.clone().json();
  const sent = init.body ? JSON.parse(init.body) : Object.fromEntries(new URL(input).searchParams);
  log.push({
    operation: sent.operationName,
    method: init.method ?? "GET",
    codes: (body.errors ?? []).map((e) => e.extensions?.code),
  });
  return response;
};
const session = {
  accessToken: null,
  refreshToken: null,
  refreshes: 0,
  signedOut: false,
  update(tokens) {
    Object.assign(this, tokens);
    this.refreshes += 1;
  },
  signOut() {
    this.signedOut = true;
  },
};
const client = createUrqlClient({
  url: `${url}/graphql`,
  wsUrl: `${url.replace(/^http/, "ws")}/graphql`,
  session,
  fetch,
  webSocketImpl: WebSocket,
});
const until = async (predicate, ms = 5000) => {
  for (let waited = 0; waited < ms && !predicate(); waited += 25) await sleep(25);
  return predicate();
};
const must = (result) => {
  if (result.error) throw result.error;
  return result.data;
};

const report = {};
const signUp = must(
  await client
    .mutation(
      gql`mutation SignUp($input: SignUpInput!) {
        signUp(input: $input) { accessToken refreshToken user { id name } }
      }`,
      { input: { email: `urql-${Date.now()}@example.com`, password: "correct horse battery", name: "Urql User" } },
    )
    .toPromise(),
).signUp;
session.accessToken = signUp.accessToken;
session.refreshToken = signUp.refreshToken;
report.user = signUp.user;

const CREATE_NOTE = gql`
  mutation CreateNote($input: CreateNoteInput!) { createNote(input: $input) { id title } }
`;
const workspace = must(
  await client
    .mutation(gql`mutation CreateWorkspace { createWorkspace(input: {name: "urql team"}) { id } }`, {})
    .toPromise(),
).createWorkspace;
for (const title of ["First", "Second"]) {
  must(await client.mutation(CREATE_NOTE, { input: { workspaceId: workspace.id, title } }).toPromise());
}

// A live query: the document cache runs it again when a mutation returns a Note.
const shown = [];
client
  .query(
    gql`query WorkspaceNotes($workspaceId: ID!) {
      notes(workspaceId: $workspaceId, sort: CREATED_AT_ASC) { nodes { id title } totalCount }
    }`,
    { workspaceId: workspace.id },
  )
  .subscribe((result) => result.data && !result.stale && shown.push(result.data.notes.nodes.map((n) => n.title)));
await until(() => shown.length === 1);
must(await client.mutation(CREATE_NOTE, { input: { workspaceId: workspace.id, title: "Third" } }).toPromise());
await until(() => shown.length === 2);
report.liveQuery = { shown };

// A subscription through graphql-ws; the first note may be created before the server has
// registered it, so create notes until one arrives.
const events = [];
client
  .subscription(
    gql`subscription WorkspaceEvents($workspaceId: ID!) {
      workspaceEvents(workspaceId: $workspaceId) { kind note { title } actor { name } }
    }`,
    { workspaceId: workspace.id },
  )
  .subscribe((result) => result.data && events.push(result.data.workspaceEvents));
for (let i = 1; i <= 3 && events.length === 0; i += 1) {
  await sleep(300);
  must(await client.mutation(CREATE_NOTE, { input: { workspaceId: workspace.id, title: `Live ${i}` } }).toPromise());
  await until(() => events.length > 0, 3000);
}
report.event = events[0];

// The access token expires; the next request is UNAUTHENTICATED, authExchange refreshes and
// retries it.
await sleep(expiresAt(session.accessToken) - Date.now() + 1200);
const mark = log.length;
const before = session.accessToken;
const refreshesBefore = session.refreshes;
report.meAfterExpiry = must(
  await client.query(gql`query Me { me { id name } }`, {}, { requestPolicy: "network-only" }).toPromise(),
).me;
report.refreshLog = log.slice(mark).map(({ operation, codes }) => `${operation}:${codes.join(",")}`);
report.refreshes = session.refreshes - refreshesBefore;
report.tokenRotated = session.accessToken !== before;
report.signedOut = session.signedOut;
report.liveQuery.requests = log.filter((e) => e.operation === "WorkspaceNotes").map((e) => e.method);
console.log(JSON.stringify(report));
process.exit(0); // the live query and subscription would keep the process alive
