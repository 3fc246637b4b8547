// The scenarios' "other client": GraphQL over HTTP with a bearer token, refreshed once on
// UNAUTHENTICATED (the test server's access tokens live a few seconds).
import { randomUUID } from "node:crypto";

const REFRESH = `mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`;

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join("; "));
    this.errors = errors;
  }
}

export async function post(url, query, variables = {}, token = null) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

export class Session {
  constructor(url, { accessToken, refreshToken, user }) {
    Object.assign(this, { url, accessToken, refreshToken, user });
  }

  static async signUp(url, name) {
    const email = `${name.toLowerCase().replace(/\W+/g, "-")}-${randomUUID().slice(0, 8)}@example.com`;
    const body = await post(
      url,
      `mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken user { id name } } }`,
      { i: { email, password: "correct horse battery", name } },
    );
    if (body.errors) throw new GraphQLError(body.errors);
    return new Session(url, { ...body.data.signUp, user: { ...body.data.signUp.user, email } });
  }

  // One refresh at a time: a refresh token spent twice would end the session.
  refresh() {
    this.refreshing ??= post(this.url, REFRESH, { t: this.refreshToken })
      .then((body) => {
        if (body.errors) throw new GraphQLError(body.errors);
        Object.assign(this, body.data.refreshSession);
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  async request(query, variables = {}) {
    let body = await post(this.url, query, variables, this.accessToken);
    if (body.errors?.some((e) => e.extensions?.code === "UNAUTHENTICATED")) {
      await this.refresh();
      body = await post(this.url, query, variables, this.accessToken);
    }
    if (body.errors) throw new GraphQLError(body.errors);
    return body.data;
  }
}

// When the access token (a JWT) expires, in milliseconds since the epoch.
export const expiresAt = (token) =>
  JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).exp * 1000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
