// GraphiQL as a frontend engineer uses it, in headless Chromium with every request to a
// non-loopback address blocked: open /graphql, run LogIn (cookie), Dashboard, then the
// WorkspaceEvents subscription, while another client creates a note; screenshots on the way.
// Usage: node graphiql-browser.mjs BASE_URL ARTIFACT_DIR ; prints one JSON object.
// CHROMIUM (default /usr/bin/chromium) is the browser; Playwright downloads none.
import { chromium } from "playwright-core";

const [baseUrl, artifacts] = process.argv.slice(2);
const TIMEOUT = 30_000;
const DEMO = { email: "demo@example.com", password: "demo-password" };

const isLoopback = (url) => {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") return true;
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // No name resolves but the loopback ones: nothing can leave the machine by hostname.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
  ],
});
let page;
const report = {
  blocked: [],
  cspViolations: [],
  pageErrors: [],
  requests: [],
  wsFramesSent: [],
  screenshots: [],
};
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  // Anything else that escapes the resolver rules (an address literal) is refused here.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    report.blocked.push(url);
    return route.abort("blockedbyclient");
  });
  await context.routeWebSocket(
    (url) => !isLoopback(url.href),
    (ws) => {
      report.blocked.push(ws.url());
      ws.close();
    },
  );
  page = await context.newPage();
  page.on("pageerror", (error) => report.pageErrors.push(error.message));
  page.on("request", (request) => report.requests.push(new URL(request.url()).pathname));
  page.on("websocket", (ws) => {
    ws.on("framesent", ({ payload }) => report.wsFramesSent.push(JSON.parse(payload).type));
  });
  await page.exposeFunction("reportCspViolation", (v) => report.cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      window.reportCspViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const screenshot = async (name) => {
    const path = `${artifacts}/${name}.png`;
    await page.screenshot({ path });
    report.screenshots.push(path);
  };
  const result = () =>
    page.evaluate(() => document.querySelector(".result-window .CodeMirror").CodeMirror.getValue());
  const waitForResult = async (text) => {
    await page.waitForFunction(
      (t) => document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue().includes(t),
      text,
      { timeout: TIMEOUT },
    );
    return result();
  };
  // The default document has several operations: ▶ asks which one to run.
  const run = async (operationName) => {
    await page.getByRole("button", { name: "Execute query (Ctrl-Enter)" }).click();
    await page.getByRole("menuitem", { name: operationName, exact: true }).click();
  };

  await page.goto(`${baseUrl}/graphql`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: TIMEOUT });
  // The schema is loaded once the documentation explorer can show the root types.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  await page.getByText("Root Types").waitFor({ timeout: TIMEOUT });
  report.title = await page.title();
  await screenshot("1-graphiql-loaded");
  await page.getByRole("button", { name: "Hide Documentation Explorer" }).click();
  // Dialogs insert <style> elements: the CSP admits them by the page's nonce.
  await page.getByRole("button", { name: "Open settings dialog" }).click();
  report.settingsDialog = await page.getByRole("dialog").evaluate((dialog) => ({
    title: dialog.querySelector("h2").textContent,
    offersPersistHeaders: dialog.textContent.includes("Persist headers"),
    stylesWithNonce: [...document.querySelectorAll("style")].filter((s) => s.nonce).length,
  }));
  await page.keyboard.press("Escape");

  await run("LogIn");
  report.logIn = JSON.parse(await waitForResult("accessTokenExpiresAt"));
  report.cookies = (await context.cookies()).map(({ name, httpOnly, sameSite, path }) => ({
    name,
    httpOnly,
    sameSite,
    path,
  }));
  report.cookieVisibleToScripts = await page.evaluate(() => document.cookie.includes("nb_access"));

  await run("Dashboard");
  report.dashboard = JSON.parse(await waitForResult('"dashboard"'));
  await screenshot("2-dashboard");

  const workspace = report.dashboard.data.workspaces.find((w) => w.viewerRole !== "VIEWER");
  await page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(JSON.stringify({ workspaceId: workspace.id }));
  await run("WorkspaceEvents");
  await page.getByRole("button", { name: "Stop query (Ctrl-Enter)" }).waitFor({ timeout: TIMEOUT });

  // Another client: the same account signed in over HTTP with a bearer token.
  const gql = async (query, variables, token) => {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ query, variables }),
    });
    return response.json();
  };
  const login = await gql(
    "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }",
    { i: DEMO },
  );
  const token = login.data.logIn.accessToken;
  // The subscription is live once its subscribe message went out and the server had a moment
  // to register it; a note created before that would be missed, so try up to three times.
  const deadline = Date.now() + TIMEOUT;
  while (!report.wsFramesSent.includes("subscribe") && Date.now() < deadline) {
    await page.waitForTimeout(50);
  }
  report.createdTitles = [];
  for (let attempt = 0; attempt < 3 && !report.event; attempt += 1) {
    await page.waitForTimeout(300);
    const title = `Live from another client ${Date.now()}`;
    const created = await gql(
      "mutation($i: CreateNoteInput!) { createNote(input: $i) { id title } }",
      { i: { workspaceId: workspace.id, title } },
      token,
    );
    report.createdTitles.push(created.data.createNote.title);
    const shown = await page
      .waitForFunction(
        (t) => {
          const text = document.querySelector(".result-window .CodeMirror").CodeMirror.getValue();
          return text.includes(t) && text;
        },
        title,
        { timeout: 5_000 },
      )
      .catch(() => null); // not delivered: the subscription was not registered yet
    if (shown) report.event = JSON.parse(await shown.jsonValue());
  }
  await screenshot("3-live-event");
  await page.getByRole("button", { name: "Stop query (Ctrl-Enter)" }).click();

  // A bearer token in the Headers tab wins over the cookie, and is not stored.
  const other = await gql(
    "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
    { i: { email: `header-${Date.now()}@example.com`, password: "long enough", name: "Header User" } },
  );
  await page.getByRole("button", { name: "Headers" }).click();
  await page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.insertText(
    JSON.stringify({ Authorization: `Bearer ${other.data.signUp.accessToken}` }),
  );
  await run("Dashboard");
  report.withBearerHeader = JSON.parse(await waitForResult("Header User"));
  report.storedBearer = await page.evaluate(
    (token) => Object.keys(localStorage).filter((key) => localStorage.getItem(key).includes(token)),
    other.data.signUp.accessToken,
  );
} catch (error) {
  report.error = String(error);
  await page?.screenshot({ path: `${artifacts}/failure.png` });
  process.exitCode = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
