// GraphiQL on /graphql/. It posts to this page's own URL as JSON, sends the session's CSRF token (admin users are
// signed in by their session cookie) and lets the headers editor add more, e.g. {"Authorization": "Bearer <token>"}.
// Loaded after the UMD builds of React, ReactDOM and GraphiQL, which define those globals.
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# RunAm API. Run a query with the \u25B6 button or Ctrl-Enter; the Docs button lists every field.",
    "#",
    "# Signed in at /admin/? Your session is used. Otherwise get a token:",
    '#   mutation { tokenAuth(username: "alice", password: "runam-demo-pass") { token errors { message } } }',
    '# and add it in the Headers tab below: {"Authorization": "Bearer <token>"}',
    "",
    "{",
    "  errands(first: 5) {",
    "    id",
    "    title",
    "    status",
    "    budget",
    "    currency",
    "  }",
    "}",
    "",
  ].join("\n");

  var root = document.getElementById("graphiql");
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    document.getElementById("graphiql-loading").textContent =
      "GraphiQL could not start: React, ReactDOM or GraphiQL did not load from this server's static files.";
    return;
  }

  function csrfToken() {
    var cookie = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (cookie) {
      return decodeURIComponent(cookie[1]);
    }
    var field = document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // GraphiQL's fetcher contract: (params, {headers}) -> a promise of the response body.
  async function fetcher(params, options) {
    var headers = new Headers({
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      "X-CSRFToken": csrfToken(),
    });
    var extra = (options && options.headers) || {};
    Object.keys(extra).forEach(function (name) {
      headers.set(name, extra[name]);
    });
    var response = await fetch(window.location.pathname, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    });
    var text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      // A proxy's error page, say: show what came back rather than a bare parse error.
      var message = "HTTP " + response.status + " " + response.statusText + ", not a GraphQL response";
      return { errors: [{ message: message, extensions: { body: text.slice(0, 2000) } }] };
    }
  }

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      isHeadersEditorEnabled: true,
      // Headers often hold a bearer token: keep them out of localStorage.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    }),
  );
})();
