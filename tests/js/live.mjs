// graphql-ws (clients/live.mjs) against `notes-bff serve --workers 2`: a member follows a
// workspace's events through a dropped connection and an expired token (4403), resuming with
// `after` each time, until being removed from the workspace ends it (FORBIDDEN).
// Usage: node live.mjs URL ; prints one JSON object.
import WebSocket from "ws";
import { createLiveClient, followWorkspaceEvents } from "./clients/live.mjs";
import { Session, expiresAt, sleep } from "./lib/api.mjs";

const [url] = process.argv.slice(2);
const http = `${url}/graphql`;
const until = async (predicate, ms = 10_000) => {
  for (let waited = 0; waited < ms && !predicate(); waited += 25) await sleep(25);
  return predicate();
};

const owner = await Session.signUp(http, "Owner");
const member = await Session.signUp(http, "Member");
const { createWorkspace: workspace } = await owner.request(
  `mutation { createWorkspace(input: {name: "Live team"}) { id } }`,
);
await owner.request(
  `mutation($w: ID!, $e: String!) { addMember(workspaceId: $w, email: $e, role: EDITOR) { role } }`,
  { w: workspace.id, e: member.user.email },
);
const create = (title) =>
  owner.request(`mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }`, {
    i: { workspaceId: workspace.id, title },
  });

// The owner follows the workspace too, on a socket of its own, until the page "unmounts".
const ownerEvents = [];
const unmount = new AbortController();
const ownerClient = createLiveClient({
  url: http.replace(/^http/, "ws"),
  session: owner,
  webSocketImpl: WebSocket,
});
const ownerConnected = new Promise((resolve) => ownerClient.on("connected", resolve));
const ownerEnded = followWorkspaceEvents({
  client: ownerClient,
  workspaceId: workspace.id,
  onEvent: (event) => ownerEvents.push(event.note.title),
  refreshSession: () => owner.refresh(),
  signal: unmount.signal,
});

// A fresh token: its whole lifetime (seconds, on the test server) is ahead of the steps below.
await member.refresh();
const sockets = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    sockets.push(this);
  }
}
const client = createLiveClient({ url: http.replace(/^http/, "ws"), session: member, webSocketImpl: TrackedWebSocket });
const closes = [];
client.on("closed", (event) => closes.push(event.code));
const connected = new Promise((resolve) => client.on("connected", resolve));

const events = [];
const waits = [];
let gate = Promise.resolve();
let refreshes = 0;
let whileRefreshing = async () => {};
const ended = followWorkspaceEvents({
  client,
  workspaceId: workspace.id,
  onEvent: (event) => events.push(event),
  refreshSession: async () => {
    refreshes += 1;
    await whileRefreshing();
    await member.refresh();
  },
  retryWait: async (attempt) => {
    waits.push(attempt);
    await gate;
  },
});
const received = (title) => until(() => events.some((e) => e.note?.title === title));


// The first subscription has no `after`: notes created before the server registered it are
// not delivered, so create notes until one arrives.
await Promise.all([connected, ownerConnected]);
for (let i = 1; i <= 5 && (events.length === 0 || ownerEvents.length === 0); i += 1) {
  await sleep(200);
  await create(`prime ${i}`);
  await until(() => events.length > 0 && ownerEvents.length > 0, 1500);
}
const primed = events.length;
for (const title of ["n1", "n2", "n3"]) await create(title);
await received("n3");

// The connection drops (TCP reset): three notes are created while the member is away, then
// the helper resubscribes with `after` and receives them.
let reconnect;
gate = new Promise((resolve) => {
  reconnect = resolve;
});
sockets.at(-1).terminate();
await until(() => closes.length === 1);
for (const title of ["n4", "n5", "n6"]) await create(title);
reconnect();
await received("n6");
await create("n7");
await received("n7");

// The member's access token expires: the server closes with 4403, the helper refreshes the
// session (a note is created meanwhile) and resumes.
whileRefreshing = () => create("n8");
await until(() => closes.includes(4403), expiresAt(member.accessToken) - Date.now() + 5000);
await received("n8");
whileRefreshing = async () => {};
await create("n9");
await received("n9");
// The owner's socket is another connection: its n9 may come a moment after the member's
// (or after its own refresh); the page unmounts once it has it, or after 15 s.
await until(() => ownerEvents.includes("n9"), 15_000);

unmount.abort();
const ownerOutcome = await ownerEnded;

// Removed from the workspace: FORBIDDEN ends the subscription, and it is not resumed.
await owner.request(`mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }`, {
  w: workspace.id,
  u: member.user.id,
});
const outcome = await Promise.race([
  ended,
  new Promise((resolve) => setTimeout(resolve, 10_000, { reason: "TIMEOUT" }).unref()),
]);
await create("after removal");
await sleep(1000);

console.log(
  JSON.stringify({
    primed,
    titles: events.slice(primed - 1).map((e) => e.note.title),
    eventIds: events.map((e) => e.eventId),
    kinds: [...new Set(events.map((e) => e.kind))],
    closes,
    waits,
    refreshes,
    connections: sockets.length,
    outcome,
    owner: { titles: ownerEvents, outcome: ownerOutcome },
  }),
);
await client.dispose();
await ownerClient.dispose();
