// graphql-ws for notes-bff: authentication on every connection, and a workspace's events
// followed across reconnections without gap or duplicate. docs/frontend.md shows the
// regions below; tests/js/live.mjs runs them.
// #region live-client
import { createClient } from "graphql-ws";

// `session.accessToken` is read on every connection, so a reconnection sends the current one.
export function createLiveClient({ url, session, webSocketImpl }) {
  return createClient({
    url,
    webSocketImpl,
    connectionParams: () => ({ authorization: `Bearer ${session.accessToken}` }),
    keepAlive: 10_000, // pings keep proxies from closing an idle socket
    // A closed socket ends the subscriptions, and each resubscribes with its own `after`:
    // graphql-ws's own retry would repeat the first variables and replay or miss events.
    retryAttempts: 0,
  });
}
// #endregion live-client

// #region live-follow
const WORKSPACE_EVENTS = `
  subscription WorkspaceEvents($workspaceId: ID!, $after: String) {
    workspaceEvents(workspaceId: $workspaceId, after: $after) {
      eventId kind noteId note { id title version }
    }
  }
`;
// Closes that a new connection does not mend: sign in again, or fix the client.
const FINAL_CLOSES = new Set([4400, 4401, 4406, 4409]);

export const backoff = (attempt) =>
  new Promise((resolve) => {
    setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt) * Math.random());
  });

// Every event of a workspace, once and in order, across reconnections, until `signal` aborts.
// Resolves with why it ended: STOPPED, FORBIDDEN or NOT_FOUND (no longer a member),
// SIGNED_OUT (the refresh was refused), CLOSED_<code>, or another error code.
export async function followWorkspaceEvents({
  client,
  workspaceId,
  onEvent,
  onGap = () => {}, // events may be missing (history expired, Redis was down): reload the view
  refreshSession, // new tokens after a 4403 (the access token expired or was revoked)
  retryWait = backoff,
  signal,
}) {
  let after = null;
  for (let attempt = 0; !signal?.aborted; attempt += 1) {
    const outcome = await new Promise((resolve) => {
      let errors = null;
      let unsubscribe = () => {};
      const stop = () => {
        unsubscribe();
        settle({ code: "STOPPED" });
      };
      const settle = (value) => {
        signal?.removeEventListener("abort", stop);
        resolve(value);
      };
      signal?.addEventListener("abort", stop);
      unsubscribe = client.subscribe(
        { query: WORKSPACE_EVENTS, variables: { workspaceId, after } },
        {
          next: (result) => {
            if (result.errors) {
              errors = result.errors;
            } else {
              attempt = 0;
              after = result.data.workspaceEvents.eventId;
              onEvent(result.data.workspaceEvents);
            }
          },
          error: (error) =>
            settle({ close: error?.code, errors: Array.isArray(error) ? error : null }),
          complete: () => settle({ code: errors?.[0]?.extensions?.code ?? "COMPLETED" }),
        },
      );
    });
    if (outcome.code === "EVENT_HISTORY_EXPIRED") {
      after = null; // older than the retained history: start from now
      onGap();
    } else if (outcome.code === "SERVICE_UNAVAILABLE") {
      await retryWait(attempt); // then resume; what happened meanwhile was not logged
      onGap();
    } else if (outcome.code) {
      return { reason: outcome.code };
    } else if (outcome.errors) {
      return { reason: outcome.errors[0].extensions?.code ?? "GRAPHQL_VALIDATION_FAILED" };
    } else if (outcome.close === 4403) {
      try {
        await refreshSession();
      } catch {
        return { reason: "SIGNED_OUT" };
      }
    } else if (FINAL_CLOSES.has(outcome.close)) {
      return { reason: `CLOSED_${outcome.close}` };
    } else {
      await retryWait(attempt); // network loss, server restart (1001), 4429, 4508…
    }
  }
  return { reason: "STOPPED" };
}
// #endregion live-follow
