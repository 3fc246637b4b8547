// Fan-out benchmark listener: N graphql-transport-ws subscriptions in one Node.js process.
//
//   node bench/fanout_listener.mjs <ws-url> <token> <workspace-id> <subscribers>
//
// Prints {"ready": N} once every connection has sent its subscribe. On a "primed" line on
// stdin it prints {"primed": n}, the sockets that have received an event (a subscription is
// live once it has). On each "report" line it prints {"latencies": [...ms], "closed": n} for
// the deliveries since the last report: milliseconds from the event's commit (`at`) to its
// arrival here. A Node.js client keeps
// the load generator's own CPU per message small, so the figures are the server's.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const WebSocket = require("ws");

const [url, token, workspaceId, count] = process.argv.slice(2);
const query =
  "subscription($w: ID!) { workspaceEvents(workspaceId: $w) " +
  "{ eventId kind at note { id title excerpt tags author { name } } } }";
let latencies = [];
let closed = 0;
let ready = 0;
let primed = 0;

function open() {
  const ws = new WebSocket(url, "graphql-transport-ws");
  let received = false;
  ws.on("open", () => {
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  });
  ws.on("message", (data) => {
    const now = performance.timeOrigin + performance.now();
    const message = JSON.parse(data);
    if (message.type === "connection_ack") {
      ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: { w: workspaceId } } }));
      // graphql-transport-ws has no "subscribed" message: a ping round trip after the
      // subscribe tells that the server has processed it.
      ws.send(JSON.stringify({ type: "ping" }));
    } else if (message.type === "pong") {
      ready += 1;
      if (ready === Number(count)) console.log(JSON.stringify({ ready }));
    } else if (message.type === "next") {
      if (!received) {
        received = true;
        primed += 1;
      }
      latencies.push(now - Date.parse(message.payload.data.workspaceEvents.at));
    } else if (message.type === "error") {
      console.error(JSON.stringify(message));
    }
  });
  ws.on("close", () => { closed += 1; });
  ws.on("error", (err) => console.error(String(err)));
}

for (let i = 0; i < Number(count); i += 1) open();

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "primed") {
    console.log(JSON.stringify({ primed }));
  } else if (line.trim() === "report") {
    console.log(JSON.stringify({ latencies, closed }));
    latencies = [];
  } else if (line.trim() === "exit") {
    process.exit(0);
  }
});
