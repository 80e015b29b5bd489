// Runs one worker under real Pyodide (npm `pyodide`, same major as Cloudflare's) with Cloudflare's
// real Python SDK, and prints one JSON line with what happened. Driven by dotdo_dev/conformance.
//
//   node runner.mjs job.json
//
// job: {module_root, python_modules, shared, harness, main_module, vars, bindings, host, path, rpc}
// Bindings are JavaScript stand-ins with Cloudflare's class names and shapes, so that the SDK wraps
// them as it wraps the real ones (D1 runs on node:sqlite).
import fs from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { loadPyodide } from "pyodide";

const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

class D1PreparedStatement {
  constructor(db, sql, params = []) { this.db = db; this.sql = sql; this.params = params; }
  bind(...values) { return new D1PreparedStatement(this.db, this.sql, values); }
  _exec() {
    const stmt = this.db.sqlite.prepare(this.sql);
    const params = this.params.map((v) => (v === true ? 1 : v === false ? 0 : v));
    if (stmt.columns().length > 0) {
      return { success: true, meta: { changes: 0, last_row_id: 0 }, results: stmt.all(...params).map((r) => ({ ...r })) };
    }
    const info = stmt.run(...params);
    return { success: true, meta: { changes: Number(info.changes), last_row_id: Number(info.lastInsertRowid) }, results: [] };
  }
  async all() { return this._exec(); }
  async run() { return this._exec(); }
  async first(column) {
    const row = this._exec().results[0] ?? null;
    return column === undefined || row === null ? row : row[column];
  }
  async raw() { return this._exec().results.map((r) => Object.values(r)); }
}
class D1Database {
  constructor() { this.sqlite = new DatabaseSync(":memory:"); }
  prepare(sql) { return new D1PreparedStatement(this, sql); }
  async batch(statements) {
    this.sqlite.exec("BEGIN");
    try { const out = statements.map((s) => s._exec()); this.sqlite.exec("COMMIT"); return out; }
    catch (e) { this.sqlite.exec("ROLLBACK"); throw e; }
  }
  async exec(sql) { this.sqlite.exec(sql); return { count: sql.split("\n").filter((l) => l.trim()).length, duration: 0 }; }
}
class KvNamespace {
  constructor() { this.map = new Map(); }
  async get(key, type) { const v = this.map.get(key); return v === undefined ? null : (type === "json" ? JSON.parse(v) : v); }
  async put(key, value) { this.map.set(key, String(value)); }
  async delete(key) { this.map.delete(key); }
  async list() { return { keys: [...this.map.keys()].map((name) => ({ name })), list_complete: true }; }
}
class WorkerQueue {
  constructor() { this.sent = []; }
  async send(body) { this.sent.push(body); }
  async sendBatch(messages) { this.sent.push(...messages); }
}
class Fetcher {
  constructor(name) { this.name = name; }
  async fetch(request) {
    const url = typeof request === "string" ? request : request.url;
    return Response.json({ success: true, data: { stub: this.name, url } });
  }
}
function serviceStub(name) {
  const target = new Fetcher(name);
  return new Proxy(target, {
    get(obj, prop) {
      // Like workerd's RPC stubs, not thenable: otherwise Pyodide would treat the stub as a promise.
      if (prop in obj || typeof prop === "symbol" || prop === "then") return obj[prop];
      return async (...args) => ({ stub: name, method: prop, args });
    },
  });
}
// A Durable Object's `ctx` as workerd hands it to the class: `storage.sql.exec(query, ...bindings)`
// returning a cursor (`toArray()`, `one()`, iteration), on node:sqlite.
class SqlCursor {
  constructor(rows) { this.rows = rows; this.rowsRead = rows.length; }
  toArray() { return this.rows; }
  one() {
    if (this.rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${this.rows.length}.`);
    return this.rows[0];
  }
  [Symbol.iterator]() { return this.rows[Symbol.iterator](); }
}
class SqlStorage {
  constructor() { this.db = new DatabaseSync(":memory:"); }
  exec(query, ...bindings) {
    const stmt = this.db.prepare(query);
    if (stmt.columns().length > 0) return new SqlCursor(stmt.all(...bindings).map((r) => ({ ...r })));
    stmt.run(...bindings);
    return new SqlCursor([]);
  }
}
function durableObjectState() {
  return {
    id: { toString: () => "0".repeat(64), name: "conformance" },
    storage: { sql: new SqlStorage() },
    blockConcurrencyWhile: async (callback) => callback(),
    waitUntil: (p) => waitUntil.push(p),
  };
}
class DispatchNamespace {
  get(name) { return serviceStub(name); }
}

function buildEnv() {
  const env = { ...job.vars };
  for (const [name, kind] of Object.entries(job.bindings)) {
    env[name] = kind === "d1" ? new D1Database() : kind === "kv" ? new KvNamespace()
      : kind === "queue" ? new WorkerQueue() : kind === "dispatch" ? new DispatchNamespace() : serviceStub(name);
  }
  return env;
}

const started = performance.now();
// What the worker prints goes to stderr; stdout carries the one JSON result line.
const pyodide = await loadPyodide({
  stdout: (text) => process.stderr.write(text + "\n"),
  stderr: (text) => process.stderr.write(text + "\n"),
});
const loadMs = performance.now() - started;
const mounts = { "/worker": job.module_root, "/vendor": job.python_modules, "/lib/shared": job.shared, "/harness": job.harness };
for (const [at, root] of Object.entries(mounts)) {
  pyodide.FS.mkdirTree(at);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root }, at);
}
const waitUntil = [];
const ctx = { waitUntil: (p) => waitUntil.push(p), passThroughOnException: () => {} };
let result;
try {
  pyodide.runPython("import sys; sys.path[:0] = ['/worker', '/vendor', '/lib', '/harness']");
  const harness = pyodide.pyimport("conformance_harness");
  const request = new Request(`https://${job.host}${job.path}`);
  const run = await harness.run(pyodide.toPy(job), buildEnv(), ctx, request, durableObjectState());
  result = run.toJs({ dict_converter: Object.fromEntries });
} catch (error) {
  result = { ok: false, stage: "runner", error: String(error && error.message ? error.message : error) };
}
await Promise.allSettled(waitUntil);
result.pyodide_load_ms = Math.round(loadMs);
result.pyodide_version = pyodide.version;
process.stdout.write(JSON.stringify(result) + "\n");
