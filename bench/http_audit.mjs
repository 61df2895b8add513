// graphql-http's GraphQL-over-HTTP server audits against a running RunAm server: `node http_audit.mjs <graphql url>`
// (run by bench/bench_http_audit.py, which installs graphql-http and graphql into a temporary folder first).
// Prints one JSON line per audit, {id, name, status, reason?, httpStatus?, body?}, in the library's order, then one
// {"summary": {...}} line. Status as graphql-http 1.23 reports it: ok, or for a failed audit `error` (a MUST),
// `warn` (a SHOULD) or `notice` (a MAY). An audit that throws (no answer at all) is reported as `error`.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
const summary = { ok: 0, warn: 0, error: 0, notice: 0 };

// One audit at a time: the server under audit shares the machine's two cores.
for (const audit of serverAudits({ url })) {
  let line;
  try {
    const result = await audit.fn();
    line = { id: result.id, name: result.name, status: result.status };
    if (result.status !== "ok") {
      line.reason = result.reason;
      line.httpStatus = result.response?.status;
      try {
        line.body = (await result.response.text()).slice(0, 300);
      } catch {
        // the audit already read the body
      }
    }
  } catch (error) {
    line = { id: audit.id, name: audit.name, status: "error", reason: `threw: ${error?.message ?? error}` };
  }
  summary[line.status] += 1;
  console.log(JSON.stringify(line));
}
console.log(JSON.stringify({ summary }));
