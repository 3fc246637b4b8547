// The reference graphql-ws client against a running notes-bff: subscribe, receive, complete.
// Usage: node graphql-ws.mjs WS_URL TOKEN WORKSPACE_ID
// Prints "subscribed", then the first event as JSON, then "completed".
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, workspaceId] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
});
const query = `subscription($w: ID!) { workspaceEvents(workspaceId: $w) { kind note { title } actor { name } } }`;
const subscription = client.iterate({ query, variables: { w: workspaceId } });
const first = subscription.next();
setTimeout(() => console.log("subscribed"), 500);
const { value } = await first;
console.log(JSON.stringify(value));
await subscription.return();
await client.dispose();
console.log("completed");
