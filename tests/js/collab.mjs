// Collaborative editing with real Yjs clients (the unmodified y-websocket provider) against
// `notes-bff serve --workers 2` (A) and a second server process (B) sharing MongoDB and Redis.
// Three editors, two on A (whichever workers accept them) and one on B, make seeded concurrent edits; one goes offline
// and comes back, one worker is killed with SIGKILL, an updateNote arrives, a viewer types,
// a member is removed. Usage: node collab.mjs CONFIG_JSON ; prints one JSON object.
import fs from "node:fs";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { post, sleep } from "./lib/api.mjs";

const config = JSON.parse(process.argv[2]);
const { note, edits } = config;
// Progress on stderr: the test prints it when the run fails or overruns its time.
const stage = (name, detail = {}) => console.error(JSON.stringify({ stage: name, at: Date.now(), ...detail }));
// Whether predicate() turns true within ms of wall-clock time (each check may take a while).
const until = async (predicate, ms = 30_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await predicate()) return true;
  return predicate();
};

// mulberry32: the same edits on every run.
const random = ((seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
})(config.seed);

// GraphQL over HTTP; a request on a connection to the killed worker fails and is sent again.
async function gql(url, token, query, variables = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      const body = await post(`${url}/graphql`, query, variables, token);
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    } catch (error) {
      if (!(error instanceof TypeError) || attempt === 5) throw error;
      await sleep(100);
    }
  }
}

const NOTE = `query($n: ID!) { note(id: $n) { content version } }`;
const TOKEN = /\[e\d:\d{4}\]/g;

// The gunicorn worker serving a connection: the server's side of the socket (its remote
// port is our local port) is one of the workers' file descriptors.
function workerOf(localPort, serverPort) {
  let inode = null;
  for (const line of fs.readFileSync("/proc/net/tcp", "utf8").trim().split("\n").slice(1)) {
    const [, local, remote, , , , , , , node] = line.trim().split(/\s+/);
    if (parseInt(remote.split(":")[1], 16) === localPort && parseInt(local.split(":")[1], 16) === serverPort) {
      inode = node;
    }
  }
  for (const pid of config.workers) {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {}
    }
  }
  return null;
}

class Editor {
  constructor(name, url, user) {
    Object.assign(this, { name, url, user, closes: [], online: true });
    this.doc = new Y.Doc();
    this.text = this.doc.getText("content");
  }

  ticket() {
    return gql(this.url, this.user.token, `mutation($n: ID!) { collabTicket(noteId: $n) }`, { n: note }).then(
      (d) => d.collabTicket,
    );
  }

  async connect() {
    this.provider = new WebsocketProvider(`${this.url.replace(/^http/, "ws")}/collab`, note, this.doc, {
      params: { ticket: await this.ticket() },
      WebSocketPolyfill: WebSocket,
      disableBc: true,
    });
    // A ticket opens one connection: fetch the next one as soon as a connection ends, and if
    // the provider was quicker (4401: it does not retry), connect again with the new one.
    this.provider.on("connection-close", (event) => {
      this.closes.push({ code: event?.code ?? null, at: Date.now() });
      if (this.online) this.refresh().catch((error) => console.error(`${this.name}: ${error}`));
    });
    this.provider.on("closed", ({ code }) => {
      if (code === 4401 && this.online) this.refresh().then(() => this.provider.connect());
    });
    await this.synced();
  }

  async refresh() {
    this.provider.params = { ticket: await this.ticket() };
  }

  synced() {
    return until(() => this.provider.synced && this.provider.wsconnected);
  }

  worker() {
    const socket = this.provider.ws?._socket;
    return socket ? workerOf(socket.localPort, socket.remotePort) : null;
  }

  goOffline() {
    this.online = false;
    this.provider.disconnect();
  }

  async goOnline() {
    this.online = true;
    await this.refresh();
    this.provider.connect();
    await this.synced();
  }

  // Insert a token at a random place, or delete a whole token (never a part of one: pieces of
  // two tokens could read as a third, and the test could not tell that from a duplicate).
  edit(i) {
    const tokens = [...this.text.toString().matchAll(TOKEN)];
    if (tokens.length > 10 && random() < 0.3) {
      const token = tokens[Math.floor(random() * tokens.length)];
      this.text.delete(token.index, token[0].length);
    } else {
      const at = Math.floor(random() * (this.text.length + 1));
      this.text.insert(at, `[${this.name}:${String(i).padStart(4, "0")}]`);
    }
  }
}

const editors = [
  new Editor("e0", config.a, config.editors[0]),
  new Editor("e1", config.a, config.editors[1]),
  new Editor("e2", config.b, config.editors[2]),
];
for (const editor of editors) await editor.connect();
// Where e0 and e1 land on A's workers is the kernel's choice (the workers race to accept on
// one socket): the run does not depend on it, since e2 on B is always another process.
const workers = [editors[0].worker(), editors[1].worker()];
stage("connected", { workers });

const viewer = new Editor("viewer", config.b, config.viewer);
await viewer.connect();
const leaver = new Editor("leaver", config.a, config.leaver);
await leaver.connect();

const result = { workers, killed: null, apiEdit: null, removed: null };
for (let i = 0; i < edits; i++) {
  editors[Math.floor(random() * editors.length)].edit(i);
  if (i % 100 === 0) stage("edit", { i });
  if (i === 100) viewer.text.insert(0, "VIEWER-SECRET");
  if (i === 300) editors[2].goOffline();
  if (i === 450) {
    result.killed = editors[0].worker();
    process.kill(result.killed, "SIGKILL");
  }
  if (i === 500) {
    // An updateNote from another client, written against the version it read.
    for (let attempt = 1; ; attempt++) {
      const { note: read } = await gql(config.b, config.owner.token, NOTE, { n: note });
      try {
        await gql(
          config.b,
          config.owner.token,
          `mutation($n: ID!, $c: String!, $v: Int) { updateNote(id: $n, input: {content: $c}, expectedVersion: $v) { version } }`,
          { n: note, c: `API-MARKER\n${read.content}`, v: read.version },
        );
        result.apiEdit = { attempts: attempt };
        break;
      } catch (error) {
        if (!String(error).includes("CONFLICT") || attempt > 20) throw error;
      }
    }
  }
  if (i === 600) await editors[2].goOnline();
  if (i === 700) {
    // Connected first: after the worker kill its reconnection may still be under way (a
    // spent ticket closes with 4401 and it connects again), and that close is not the removal.
    result.leaverSynced = await leaver.synced();
    const started = Date.now();
    leaver.online = false;
    await gql(config.b, config.owner.token, `mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }`, {
      w: config.workspace,
      u: config.leaver.id,
    });
    const after = () => leaver.closes.find((c) => c.at >= started);
    await until(after, 5000);
    result.removed = after() ? { code: after().code, ms: after().at - started } : null;
  }
  if (random() < 0.5) await sleep(Math.floor(random() * 4));
}

stage("edited");
const texts = () => editors.map((e) => e.text.toString());
result.converged = await until(() => editors.every((e) => e.provider.synced) && new Set(texts()).size === 1, 60_000);
stage("converged", { converged: result.converged });
const final = editors[0].text.toString();
result.stored = await until(
  async () => (await gql(config.b, config.owner.token, NOTE, { n: note })).note.content === final,
  60_000,
);
stage("stored", { stored: result.stored });
const fresh = new Editor("fresh", config.a, config.owner);
await fresh.connect();
result.fresh = fresh.text.toString() === final;
const tokens = {};
for (const match of final.matchAll(TOKEN)) tokens[match[0]] = (tokens[match[0]] || 0) + 1;
Object.assign(result, {
  length: final.length,
  tokens: Object.keys(tokens).length,
  duplicated: Object.entries(tokens).filter(([, n]) => n > 1),
  apiMarkers: final.split("API-MARKER").length - 1,
  // e2's edits made while it was offline
  offlineTokens: Object.keys(tokens).filter((t) => t.startsWith("[e2:") && +t.slice(4, -1) > 300 && +t.slice(4, -1) < 600)
    .length,
  viewerLeak: texts().some((t) => t.includes("VIEWER")) || final.includes("VIEWER"),
  viewerKept: viewer.text.toString().includes("VIEWER-SECRET"),
  e0Closes: editors[0].closes.map((c) => c.code),
});
for (const client of [...editors, viewer, leaver, fresh]) client.provider.destroy();
console.log(JSON.stringify(result));
process.exit(0);
