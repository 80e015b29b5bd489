// Runs R2 operations in a JavaScript worker under real miniflare 4 and prints each result as one
// JSON line. tests/reference runs the same operations through the local binding; the two must agree.
//
//   node r2_ops.mjs ops.json
//
// An operation: {"op": "put" | "get" | "head" | "delete" | "list" | "list_all" | "mpu", ...}; bytes are
// written {"$bytes": [..]}, dates {"$date": ms}. An object comes back as its fields (`uploaded` as
// milliseconds, `body` as text when it has one); a multipart scenario ("mpu") as every step's outcome.
import fs from "node:fs";
import { Miniflare } from "miniflare";

const ops = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const script = `
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if ("$bytes" in value) return new Uint8Array(value["$bytes"]);
    if ("$date" in value) return new Date(value["$date"]);
    if ("$headers" in value) return new Headers(value["$headers"]);
    if ("$repeat" in value) return "x".repeat(value["$repeat"]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}
async function describe(obj) {
  if (obj === null || obj === undefined) return null;
  const out = {
    key: obj.key, size: obj.size, etag: obj.etag, httpEtag: obj.httpEtag,
    uploaded: obj.uploaded.getTime(), httpMetadata: obj.httpMetadata, customMetadata: obj.customMetadata,
    checksums: obj.checksums.toJSON(), storageClass: obj.storageClass, range: obj.range ?? null,
    hasBody: "body" in obj,
  };
  if (out.httpMetadata && out.httpMetadata.cacheExpiry) out.httpMetadata = { ...out.httpMetadata, cacheExpiry: out.httpMetadata.cacheExpiry.getTime() };
  if ("body" in obj) out.text = await obj.text();
  const headers = new Headers();
  obj.writeHttpMetadata(headers);
  out.headers = Object.fromEntries(headers);
  return out;
}
async function run(env, op, state) {
  const b = env.BUCKET;
  switch (op.op) {
    case "put": return describe(await b.put(op.key, decode(op.value), decode(op.options)));
    case "get": return describe(await b.get(op.key, decode(op.options)));
    case "head": return describe(await b.head(op.key));
    case "delete": return b.delete(op.keys);
    case "list": {
      const r = await b.list(decode(op.options));
      return { objects: await Promise.all(r.objects.map(describe)), truncated: r.truncated,
               hasCursor: r.cursor !== undefined, delimitedPrefixes: r.delimitedPrefixes };
    }
    case "list_all": {
      const keys = [], prefixes = []; let cursor; let pages = 0;
      do {
        const r = await b.list({ ...decode(op.options), ...(cursor ? { cursor } : {}) });
        keys.push(...r.objects.map((o) => o.key)); prefixes.push(...r.delimitedPrefixes); pages += 1;
        cursor = r.truncated ? r.cursor : undefined;
      } while (cursor);
      return { keys, prefixes, pages };
    }
    case "mpu": {
      const steps = [];
      let upload = await b.createMultipartUpload(op.key, decode(op.options));
      const parts = [];
      for (const step of op.steps) {
        try {
          if (step.part !== undefined) {
            const p = await upload.uploadPart(step.part, decode(step.value));
            parts.push(p); steps.push({ ok: { partNumber: p.partNumber, etag: p.etag } });
          } else if (step.complete) {
            const chosen = step.complete === "all" ? parts : step.complete.map((i) => decode(parts[i] ?? { partNumber: i + 1, etag: "nope" }));
            steps.push({ ok: await describe(await upload.complete(chosen)) });
          } else if (step.abort) {
            steps.push({ ok: await upload.abort() ?? null });
          } else if (step.resume) {
            upload = b.resumeMultipartUpload(op.key, step.resume === "bad" ? "bad-id" : upload.uploadId);
            steps.push({ ok: upload.key });
          }
        } catch (e) { steps.push({ error: String(e && e.message || e) }); }
      }
      return steps;
    }
  }
  throw new Error("unknown op " + op.op);
}
export default {
  async fetch(request, env) {
    const out = [];
    for (const op of await request.json()) {
      try { const v = await run(env, op); out.push({ ok: v === undefined ? null : v }); }
      catch (e) { out.push({ error: String(e && e.message || e) }); }
    }
    return Response.json(out);
  },
};`;

const mf = new Miniflare({ modules: true, script, r2Buckets: ["BUCKET"], compatibilityDate: "2026-07-01" });
try {
  const response = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(ops) });
  process.stdout.write(JSON.stringify(await response.json()) + "\n");
} finally {
  await mf.dispose();
}
