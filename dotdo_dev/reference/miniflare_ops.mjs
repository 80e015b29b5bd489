// Runs a list of binding operations in a JavaScript worker under real miniflare 4 (Cloudflare's
// local simulator) and prints the results as one JSON line. The same operations run through the
// local CPython bindings in tests/reference; the two must agree.
//
//   node miniflare_ops.mjs ops.json
//
// An operation: {"binding": "DB" | "KV", "op": ..., ...}; bytes are written {"$bytes": [..]}.
import fs from "node:fs";
import { Miniflare } from "miniflare";

const ops = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const script = `
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if ("$bytes" in value) return new Uint8Array(value["$bytes"]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}
function encode(value) {
  if (value instanceof ArrayBuffer) return { $bytes: [...new Uint8Array(value)] };
  if (ArrayBuffer.isView(value)) return { $bytes: [...new Uint8Array(value.buffer)] };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value === undefined ? null : value;
}
async function run(env, op) {
  const db = env.DB, kv = env.KV;
  const stmt = (o) => db.prepare(o.sql).bind(...decode(o.params || []));
  switch (op.op) {
    case "exec": return db.exec(op.sql);
    case "run": return stmt(op).run();
    case "all": return stmt(op).all();
    case "first": return op.column === undefined ? stmt(op).first() : stmt(op).first(op.column);
    case "raw": return stmt(op).raw(op.options);
    case "batch": return db.batch(op.statements.map(stmt));
    case "put": return kv.put(op.key, decode(op.value), op.options);
    case "get": return kv.get(op.key, op.options);
    case "getWithMetadata": return kv.getWithMetadata(op.key, op.options);
    case "list": return kv.list(op.options);
    case "list_all": {
      // Page through with cursors: the names seen and how many pages it took.
      const names = []; let cursor; let pages = 0;
      do {
        const page = await kv.list({ ...op.options, ...(cursor ? { cursor } : {}) });
        names.push(...page.keys.map((k) => k.name)); pages += 1;
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return { names, pages };
    }
    case "delete": return kv.delete(op.key);
  }
  throw new Error("unknown op " + op.op);
}
export default {
  async fetch(request, env) {
    const out = [];
    for (const op of await request.json()) {
      try { out.push({ ok: encode(await run(env, op)) }); }
      catch (e) { out.push({ error: String(e && e.message || e) }); }
    }
    return Response.json(out);
  },
};`;

const mf = new Miniflare({
  modules: true,
  script,
  d1Databases: ["DB"],
  kvNamespaces: ["KV"],
  compatibilityDate: "2026-07-01",
});
try {
  const response = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(ops) });
  process.stdout.write(JSON.stringify(await response.json()) + "\n");
} finally {
  await mf.dispose();
}
