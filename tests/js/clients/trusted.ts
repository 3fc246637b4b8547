// A typed client for trusted documents: it sends the hash of an operation that the build
// registered, never its text. docs/frontend.md shows the region below; trusted.ts runs it.
// #region trusted
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string };
}

export class OperationError extends Error {
  constructor(readonly errors: GraphQLErrorShape[]) {
    super(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join("; "));
  }
}

// The generated documents hold only `__meta__.hash`, the sha256 of the registered text.
export async function execute<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  token?: string,
): Promise<TResult> {
  const { hash } = (document as unknown as { __meta__: { hash: string } }).__meta__;
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      variables,
      extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
    }),
  });
  const body = (await response.json()) as { data?: TResult; errors?: GraphQLErrorShape[] };
  if (body.errors?.length) throw new OperationError(body.errors);
  return body.data as TResult;
}
// #endregion trusted
