// The typed client (clients/trusted.ts) with graphql-codegen's documents (gql/, generated from
// schema.graphql and operations/) against `notes-bff serve` in trusted mode, after
// `notes-bff persisted-queries push gql/persisted-documents.json`.
// Usage (compiled to build/): node build/trusted.js URL ; prints one JSON object.
import { readFileSync } from "node:fs";
import { execute, OperationError } from "./clients/trusted.js";
import {
  CreateNoteDocument,
  CreateWorkspaceDocument,
  DashboardDocument,
  MeDocument,
  SignUpDocument,
  WorkspaceNotesDocument,
  type DashboardQuery,
  type NoteSummaryFragment,
  type Priority,
  type WorkspaceNotesQuery,
} from "./gql/graphql.js";

const url = `${process.argv[2]}/graphql`;

const { signUp } = await execute(url, SignUpDocument, {
  input: { email: `typed-${Date.now()}@example.com`, password: "correct horse battery", name: "Typed User" },
});
const token = signUp.accessToken;
const me = (await execute(url, MeDocument, {}, token)).me;
const { createWorkspace } = await execute(url, CreateWorkspaceDocument, { input: { name: "Typed team" } }, token);
const priorities: Priority[] = ["URGENT", "LOW", "HIGH"];
for (const [i, priority] of priorities.entries()) {
  await execute(
    url,
    CreateNoteDocument,
    { input: { workspaceId: createWorkspace.id, title: `Typed ${i + 1}`, priority, tags: ["typed"] } },
    token,
  );
}
const dashboard: DashboardQuery["dashboard"] = (await execute(url, DashboardDocument, {}, token)).dashboard;
const notes: NoteSummaryFragment[] = [];
let after: string | null = null;
do {
  const variables = { workspaceId: createWorkspace.id, first: 2, after };
  const page: WorkspaceNotesQuery["notes"] = (await execute(url, WorkspaceNotesDocument, variables, token)).notes;
  notes.push(...page.edges.map((edge) => edge.node));
  after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null;
} while (after);

// What trusted mode refuses, and the registered text that it accepts instead of the hash.
const raw = async (body: object): Promise<[number, string | null, unknown]> => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return [response.status, json.errors?.[0]?.extensions?.code ?? null, json.data ?? null];
};
const manifest = JSON.parse(readFileSync(new URL("../gql/persisted-documents.json", import.meta.url), "utf8")) as Record<string, string>;
const meHash = (MeDocument as unknown as { __meta__: { hash: string } }).__meta__.hash;
let unknownHashError: string | undefined;
try {
  await execute(url, { __meta__: { hash: "0".repeat(64) } } as unknown as typeof MeDocument, {}, token);
} catch (error) {
  unknownHashError = (error as OperationError).errors[0].extensions?.code;
}

console.log(
  JSON.stringify({
    user: signUp.user,
    me,
    dashboard,
    notes,
    refused: {
      unregisteredText: await raw({ query: "query Me { me { id } }" }),
      introspection: await raw({ query: "{ __schema { queryType { name } } }" }),
      unknownHash: unknownHashError,
    },
    registeredText: await raw({ query: manifest[meHash] }),
    hashes: Object.keys(manifest).length,
  }),
);

// Never called: the generated types refuse wrong variables and unselected fields
// (`tsc --noEmit` fails if any of these lines type-checks).
export function typeErrors(): void {
  // @ts-expect-error: a title is a String
  void execute(url, CreateNoteDocument, { input: { workspaceId: "w", title: 42 } }, token);
  // @ts-expect-error: workspaceId is required
  void execute(url, WorkspaceNotesDocument, { first: 2 }, token);
  // @ts-expect-error: not a Priority
  const wrong: Priority = "CRITICAL";
  // @ts-expect-error: the Dashboard operation selects no `content`
  void dashboard.recent[0].content;
  void wrong;
}
