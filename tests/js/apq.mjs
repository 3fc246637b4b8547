// Apollo Client's persisted-queries link against a running notes-bff: miss, register, hit.
// Usage: node apq.mjs URL TOKEN GET|POST ; prints one JSON line per request seen by fetch.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const [url, token, method] = process.argv.slice(2);
const seen = [];
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const body = await response.clone().json();
  const target = new URL(typeof input === "string" ? input : input.url);
  const sent = init?.body ? JSON.parse(init.body) : Object.fromEntries(target.searchParams);
  seen.push({
    method: init?.method ?? "GET",
    sentQuery: Boolean(sent.query),
    status: response.status,
    code: body.errors?.[0]?.extensions?.code ?? null,
    data: body.data ?? null,
  });
  return response;
};
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: method === "GET" }).concat(
  new HttpLink({ uri: `${url}/graphql`, fetch: recordingFetch, headers: { authorization: `Bearer ${token}` } }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: { query: { fetchPolicy: "no-cache" } } });
const query = gql`query Me${method} { me { id name } }`;
const first = await client.query({ query });
const second = await client.query({ query });
console.log(JSON.stringify({ first: first.data, second: second.data, seen }));
