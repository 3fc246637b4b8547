// The editors of bench/collab.py: DOCS notes x EDITORS y-websocket clients, editors
// alternating between host A and host B, each inserting a stamped token at RATE edits per
// second per editor. Every client notes when each token arrives; a token's latency is its
// arrival minus its insertion (one clock: one process). Prints one JSON line per rate.
// Usage: node collab_driver.mjs CONFIG_JSON
import { createRequire } from "node:module";

// The locked packages of tests/js (tests/js_packages.py installs them).
const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const WebSocket = require("ws");
const { WebsocketProvider } = require("y-websocket");
const Y = require("yjs");

const { a, b, token, notes, editors, rates, seconds } = JSON.parse(process.argv[2]);
process.setMaxListeners(0); // every provider listens for the process's exit
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function ticket(url, note) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: "mutation($n: ID!) { collabTicket(noteId: $n) }", variables: { n: note } }),
  });
  return (await response.json()).data.collabTicket;
}

const sent = new Map(); // token -> [time, host]
let samples = { cross: [], same: [] };
const clients = [];
for (const note of notes) {
  for (let e = 0; e < editors; e++) {
    const host = e % 2 === 0 ? "a" : "b";
    const doc = new Y.Doc();
    const text = doc.getText("content");
    const provider = new WebsocketProvider(`${(host === "a" ? a : b).replace(/^http/, "ws")}/collab`, note, doc, {
      params: { ticket: await ticket(host === "a" ? a : b, note) },
      WebSocketPolyfill: WebSocket,
      disableBc: true,
    });
    const client = { doc, text, provider, host, name: `${note.slice(-4)}-${e}` };
    text.observe((event) => {
      if (event.transaction.local) return;
      const now = performance.now();
      for (const op of event.delta) {
        if (typeof op.insert !== "string") continue;
        for (const match of op.insert.matchAll(/<(\d+)>/g)) {
          const origin = sent.get(match[1]);
          if (origin) samples[origin[1] === host ? "same" : "cross"].push(now - origin[0]);
        }
      }
    });
    clients.push(client);
  }
}
while (!clients.every((c) => c.provider.synced)) await sleep(50);

let counter = 0;
const quantile = (values, q) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;
};
// Every client edits at `rate` for `duration` seconds, on its own schedule spread over the
// interval; the number of edits.
async function edit(rate, duration) {
  const interval = 1000 / rate;
  const until = performance.now() + duration * 1000;
  let edits = 0;
  await Promise.all(
    clients.map(async (client, i) => {
      await sleep((i * interval) / clients.length);
      for (let next = performance.now(); next < until; next += interval) {
        await sleep(Math.max(0, next - performance.now()));
        const id = String(++counter);
        sent.set(id, [performance.now(), client.host]);
        client.text.insert(Math.floor(Math.random() * (client.text.length + 1)), `<${id}>`);
        edits++;
      }
    }),
  );
  await sleep(2000);
  return edits;
}

await edit(rates[0], 3); // warm-up: first checkpoints, restore points, compactions
for (const rate of rates) {
  console.log(JSON.stringify({ phase: rate, start: true }));
  samples = { cross: [], same: [] };
  const edits = await edit(rate, seconds);
  const expected = edits * (editors - 1);
  const received = samples.cross.length + samples.same.length;
  console.log(
    JSON.stringify({
      phase: rate,
      edits,
      seconds,
      received,
      missing: expected - received,
      cross: { p50: quantile(samples.cross, 0.5), p95: quantile(samples.cross, 0.95), n: samples.cross.length },
      same: { p50: quantile(samples.same, 0.5), p95: quantile(samples.same, 0.95), n: samples.same.length },
    }),
  );
}
for (const client of clients) client.provider.destroy();
process.exit(0);
