// Runs Rate Limiting calls in a JavaScript worker under real miniflare 4 and prints each answer as
// one JSON line. tests/reference makes the same calls through the local binding; the two must agree.
//
//   node ratelimit_ops.mjs job.json
//
// The job: {"ratelimits": {NAME: {"namespace_id": "1001", "simple": {"limit": 3, "period": 60}}},
//           "ops": [{"binding": NAME, "options": {"key": "k"}}, ...]}
import fs from "node:fs";
import { Miniflare } from "miniflare";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const script = `
export default {
  async fetch(request, env) {
    const out = [];
    for (const op of await request.json()) {
      try { out.push({ ok: await env[op.binding].limit(op.options) }); }
      catch (e) { out.push({ error: String(e && e.message || e) }); }
    }
    return Response.json(out);
  },
};`;

const mf = new Miniflare({ modules: true, script, ratelimits: job.ratelimits, compatibilityDate: "2026-07-01" });
try {
  const response = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(job.ops) });
  process.stdout.write(JSON.stringify(await response.json()) + "\n");
} finally {
  await mf.dispose();
}
