// Apollo Client 4 against a running RunAm server: `node clients.mjs <graphql url>` (run by bench/bench_clients.py,
// which installs @apollo/client, graphql and rxjs into a temporary folder first). Prints one JSON line per scenario.
import { createHash } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const url = process.argv[2];
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

// Every request the links send, as the server saw it asked: method, status, whether the query text went along.
const wire = [];
const recordingFetch = async (input, init = {}) => {
  const response = await fetch(input, init);
  const body = typeof init.body === "string" ? init.body : "";
  const target = String(input);
  wire.push({
    method: init.method || "GET",
    status: response.status,
    sentQuery: body.includes('"query"') || new URL(target).searchParams.has("query"),
    hashed: body.includes("persistedQuery") || target.includes("persistedQuery"),
  });
  return response;
};

const BOARD = gql`
  query Board($first: Int) {
    errands(first: $first) {
      id
      title
      createdBy { id username }
    }
  }
`;
const ROLES = gql`
  query Roles {
    roles { id name }
  }
`;
const LOGIN = gql`
  mutation Login($username: String!, $password: String!) {
    tokenAuth(username: $username, password: $password) { token errors { code message } }
  }
`;
const MINE = gql`
  query Mine {
    me { username }
    myErrands(first: 5) { id title }
  }
`;

function client(link) {
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

async function scenario(name, run) {
  wire.length = 0;
  try {
    const details = await run();
    console.log(JSON.stringify({ name, ok: true, wire: [...wire], ...details }));
  } catch (error) {
    console.log(JSON.stringify({ name, ok: false, error: String(error && (error.message || error)), wire: [...wire] }));
  }
}

function http(options = {}) {
  return new HttpLink({ uri: url, fetch: recordingFetch, ...options });
}

async function twice(apollo, query, variables) {
  const first = await apollo.query({ query, variables, fetchPolicy: "network-only" });
  const second = await apollo.query({ query, variables, fetchPolicy: "network-only" });
  return { first: first.data, second: second.data };
}

await scenario("apq-post", async () => {
  const apollo = client(new PersistedQueryLink({ sha256 }).concat(http()));
  const { first, second } = await twice(apollo, BOARD, { first: 3 });
  return { errands: first.errands.length, same: JSON.stringify(first) === JSON.stringify(second) };
});

await scenario("apq-get", async () => {
  const apollo = client(new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(http()));
  const { first, second } = await twice(apollo, ROLES);
  return { roles: first.roles.length, same: JSON.stringify(first) === JSON.stringify(second) };
});

await scenario("get-for-queries", async () => {
  const apollo = client(http({ useGETForQueries: true }));
  const { first, second } = await twice(apollo, BOARD, { first: 2 });
  return { errands: first.errands.length, same: JSON.stringify(first) === JSON.stringify(second) };
});

await scenario("signed-in-apq", async () => {
  const anonymous = client(http());
  const login = await anonymous.mutate({ mutation: LOGIN, variables: { username: "alice", password: "runam-demo-pass" } });
  const token = login.data.tokenAuth.token;
  if (!token) throw new Error(`login refused: ${JSON.stringify(login.data.tokenAuth.errors)}`);
  const auth = new ApolloLink((operation, forward) => {
    operation.setContext({ headers: { authorization: `Bearer ${token}` } });
    return forward(operation);
  });
  const apollo = client(ApolloLink.from([auth, new PersistedQueryLink({ sha256, useGETForHashedQueries: true }), http()]));
  const { first } = await twice(apollo, MINE);
  return { me: first.me.username, myErrands: first.myErrands.length };
});
