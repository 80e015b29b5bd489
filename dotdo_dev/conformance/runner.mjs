// Runs one worker's built bundle under real Pyodide (npm `pyodide`, same major as Cloudflare's) with
// Cloudflare's real Python SDK from the bundle, and prints one JSON line with what happened.
// Driven by dotdo_dev/conformance.
//
//   node runner.mjs job.json
//   node runner.mjs --serve [bytecode-dir]   # job files named one per line on stdin, one result line each
//   node runner.mjs --make-snapshot <file>   # Pyodide's memory right after it boots, for job.snapshot
//
// Each job gets a Pyodide of its own, restored from the snapshot: nothing a job's Python did is seen by
// the next. What `--serve` keeps between jobs is only what cannot differ between them: Node itself, the
// Pyodide JavaScript module, the compiled WebAssembly modules (see `compileOnce`) and the bytecode of
// each bundle's modules (see `bytecodeFolder`).
//
// The bundle (what `wrangler deploy` would upload) is mounted alone at /session/metadata, where
// workerd puts a Python Worker's modules, with its python_modules/ on sys.path: nothing from the
// repo is visible. The harness is written into Pyodide's in-memory file system, not mounted.
// Bindings are JavaScript stand-ins with Cloudflare's class names and shapes, so that the SDK wraps
// them as it wraps the real ones (D1 and Durable Object storage run on node:sqlite).
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import util from "node:util";
import { setTimeout as nodeTimeout } from "node:timers";
import { DatabaseSync } from "node:sqlite";
import { loadPyodide } from "pyodide";

// A snapshot of Pyodide's memory right after it booted (nothing imported, nothing mounted), as workerd
// restores a Python Worker's interpreter from one: loading from it takes a tenth of the boot time.
if (process.argv[2] === "--make-snapshot") {
  const target = process.argv[3];
  const booted = await loadPyodide({ _makeSnapshot: true });
  const partial = `${target}.${process.pid}.partial`;
  fs.writeFileSync(partial, booted.makeMemorySnapshot());
  fs.renameSync(partial, target); // whole or absent: another run may read it at any moment
  process.exit(0);
}

// Compiling WebAssembly is most of a job's time (Pyodide's own module, and every extension module a
// bundle loads: pydantic_core alone is 4.7 MB). A compiled `WebAssembly.Module` holds no state (each
// instantiation gets its own memory and globals), so one compiled per distinct content serves every
// job of the process; each is still instantiated anew for each job.
const compiled = new Map();
const OriginalModule = WebAssembly.Module;
const originalInstantiate = WebAssembly.instantiate;
function compileOnce(bytes) {
  const view = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  const key = crypto.createHash("sha256").update(view).digest("hex");
  let module = compiled.get(key);
  if (!module) compiled.set(key, (module = new OriginalModule(view)));
  return module;
}
WebAssembly.Module = new Proxy(OriginalModule, { construct: (_, [bytes]) => compileOnce(bytes) });
WebAssembly.compile = async (bytes) => compileOnce(bytes);
WebAssembly.instantiate = async (source, imports) => {
  if (source instanceof OriginalModule) return originalInstantiate(source, imports);
  const module = compileOnce(source);
  return { module, instance: await originalInstantiate(module, imports) };
};

// `--serve` also keeps the bytecode Python compiles from a bundle's modules, in a folder of its own for
// each bundle content (so a changed bundle never meets bytecode of another), under the folder given
// after `--serve` (its owner removes it). Python writes and validates it as it does any `__pycache__` (`sys.pycache_prefix`); what a
// module does when imported is unchanged, only the compiling from source is not repeated.
let bytecodeRoot = null;
function bytecodeFolder(bundle) {
  const hash = crypto.createHash("sha256");
  for (const name of fs.readdirSync(bundle, { recursive: true }).map(String).sort()) {
    const file = path.join(bundle, name);
    if (!fs.statSync(file).isFile()) continue;
    hash.update(name).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  const folder = path.join(bytecodeRoot, hash.digest("hex").slice(0, 32));
  fs.mkdirSync(folder, { recursive: true });
  return folder;
}

// The job being run. Jobs run one at a time; the state below is made anew for each (`runJob`).
let job;
const BUNDLE_AT = "/session/metadata";
const BYTECODE_AT = "/bytecode";

// workerd refuses these in a worker's global scope (while its top level runs at deploy).
const GLOBAL_SCOPE_MESSAGE =
  "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), " +
  "setting a timeout, and generating random values are not allowed within global scope. To fix this " +
  "error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/";
const scope = { global: false };
function guardGlobalScope(name) {
  const original = globalThis[name];
  globalThis[name] = function (...args) {
    if (scope.global) throw new Error(`${GLOBAL_SCOPE_MESSAGE} (${name})`);
    return original.apply(this, args);
  };
}
for (const name of ["fetch", "setTimeout", "setInterval"]) guardGlobalScope(name);

// Time spent in the stand-ins' own JavaScript (D1's SQLite, Durable Object SQL, a scripted service answer,
// a queue's copy of a message, the rate limiter): on Cloudflare that work is another process's. The
// harness reads `ms` around each timed request and RPC call (`request_standin_ms`, `rpc_standin_ms`); a
// stand-in called inside another is counted once.
const standIn = {
  ms: 0, depth: 0,
  time(work) {
    if (this.depth++ > 0) { try { return work(); } finally { this.depth--; } }
    const started = performance.now();
    try { return work(); } finally { this.depth--; this.ms += performance.now() - started; }
  },
};

// Each SQL text's node:sqlite statement, prepared on first use, and whether it answers rows. A statement
// that changes the schema empties the cache: one prepared before it would keep the old columns of `SELECT *`.
const SCHEMA_CHANGE = /^\s*(?:(?:--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)\s*)*(CREATE|ALTER|DROP)\b/i;
class PreparedCache {
  constructor(sqlite) { this.sqlite = sqlite; this.map = new Map(); }
  get(sql) {
    let entry = this.map.get(sql);
    if (entry === undefined) {
      const stmt = this.sqlite.prepare(sql);
      entry = { stmt, reads: stmt.columns().length > 0 };
      if (SCHEMA_CHANGE.test(sql)) this.clear();
      else this.map.set(sql, entry);
    }
    return entry;
  }
  clear() { this.map.clear(); }
}
class D1PreparedStatement {
  constructor(db, sql, params = []) { this.db = db; this.sql = sql; this.params = params; }
  bind(...values) { return new D1PreparedStatement(this.db, this.sql, values); }
  _exec() {
    this.db.executed += 1;
    const { stmt, reads } = this.db.statement(this.sql);
    const params = this.params.map((v) => (v === true ? 1 : v === false ? 0 : v));
    if (reads) {
      return { success: true, meta: { changes: 0, last_row_id: 0 }, results: stmt.all(...params).map((r) => ({ ...r })) };
    }
    const info = stmt.run(...params);
    return { success: true, meta: { changes: Number(info.changes), last_row_id: Number(info.lastInsertRowid) }, results: [] };
  }
  _timed() { return standIn.time(() => this._exec()); }
  async all() { return this._timed(); }
  async run() { return this._timed(); }
  async first(column) {
    const row = this._timed().results[0] ?? null;
    return column === undefined || row === null ? row : row[column];
  }
  async raw() { return this._timed().results.map((r) => Object.values(r)); }
}
class D1Database {
  // `file`: a copy of that SQLite file is the database it starts with (job.d1_files); else an empty one.
  // A stand-in's cost is the harness's, not the worker's (D1 runs in a process of its own on Cloudflare):
  // the copy, thrown away after the job, is written without an fsync per commit nor a journal file, and
  // each SQL text is prepared once (node:sqlite re-prepares a statement itself when the schema changed).
  constructor(file) {
    this.sqlite = new DatabaseSync(file ?? ":memory:");
    if (file) this.sqlite.exec("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY");
    this.statements = new PreparedCache(this.sqlite);
    this.executed = 0; // statements run (result.d1_executed)
  }
  statement(sql) { return this.statements.get(sql); }
  prepare(sql) { return new D1PreparedStatement(this, sql); }
  async batch(statements) {
    return standIn.time(() => {
      this.sqlite.exec("BEGIN");
      try { const out = statements.map((s) => s._exec()); this.sqlite.exec("COMMIT"); return out; }
      catch (e) { this.sqlite.exec("ROLLBACK"); throw e; }
    });
  }
  async exec(sql) {
    standIn.time(() => { this.statements.clear(); this.executed += 1; this.sqlite.exec(sql); });
    return { count: sql.split("\n").filter((l) => l.trim()).length, duration: 0 };
  }
}
class KvNamespace {
  constructor() { this.map = new Map(); }
  async get(key, type) { const v = this.map.get(key); return v === undefined ? null : (type === "json" ? JSON.parse(v) : v); }
  async put(key, value) { this.map.set(key, String(value)); }
  async delete(key) { this.map.delete(key); }
  async list() { return { keys: [...this.map.keys()].map((name) => ({ name })), list_complete: true }; }
}
// A queue producer: what the worker sends is kept (`sent`: body and options, reported per binding), and
// `job.queue.from_sent` turns it into the queue stage's batch, as Cloudflare would deliver it.
function copied(body) {
  try { return structuredClone(body); } catch { return body; } // Queues serialise a message (v8 by default)
}
class WorkerQueue {
  constructor() { this.sent = []; }
  async send(body, options) {
    standIn.time(() => this.sent.push({ body: copied(body), options: { ...(options ?? {}) }, timestamp: Date.now() }));
  }
  async sendBatch(messages, options) {
    standIn.time(() => this._sendBatch(messages, options));
  }
  _sendBatch(messages, options) {
    for (const m of messages) {
      const delaySeconds = m.delaySeconds ?? options?.delaySeconds;
      const sentOptions = delaySeconds === undefined ? {} : { delaySeconds };
      this.sent.push({ body: copied(m.body), options: sentOptions, timestamp: Date.now() });
    }
  }
}
// A service binding: RPC answers come from job.services[name][method] when the job scripts them
// (a stand-in auth that validates a token, say); fetch answers from job.services[name].fetch, else
// an envelope naming the stub. Every call is recorded.
let calls = [];
class Fetcher {
  constructor(name) { this.name = name; }
  async fetch(request) { return standIn.time(() => this._fetch(request)); }
  _fetch(request) {
    const req = typeof request === "string" ? new Request(request) : request;
    const script = job.services?.[this.name]?.fetch;
    calls.push({ binding: this.name, method: "fetch", url: req.url, principal: req.headers.get("x-dotdo-principal") });
    if (script) return fetched(Response.json(script.body, { status: script.status ?? 200 }));
    return fetched(Response.json({ success: true, data: { stub: this.name, url: req.url } }));
  }
}
// What a service binding's fetch answers in workerd: a Response whose headers are immutable (as any fetch()
// result's), so that a worker changing them meets the TypeError it meets on Cloudflare.
function fetched(response) {
  const headers = new Headers(response.headers);
  const refuse = () => { throw new TypeError("Can't modify immutable headers."); };
  const immutable = new Proxy(headers, {
    get(target, prop) {
      if (prop === "set" || prop === "append" || prop === "delete") return refuse;
      const value = target[prop];
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  Object.defineProperty(response, "headers", { get: () => immutable });
  return response;
}
function serviceStub(name) {
  const target = new Fetcher(name);
  return new Proxy(target, {
    get(obj, prop) {
      // Like workerd's RPC stubs, not thenable: otherwise Pyodide would treat the stub as a promise.
      if (prop in obj || typeof prop === "symbol" || prop === "then") return obj[prop];
      return async (...args) => standIn.time(() => {
        calls.push({ binding: name, method: prop });
        const scripted = job.services?.[name]?.[prop];
        if (scripted === undefined) return { stub: name, method: prop, args };
        if (scripted.error) throw new Error(scripted.error);
        return scripted.result;
      });
    },
  });
}
// Durable Object storage as workerd hands it to a class: `ctx.storage` is a DurableObjectStorage
// (the SDK wraps it by that name and converts what it returns), `storage.sql.exec(query, ...bindings)`
// gives a SqlStorageCursor (`toArray()`, `one()`, iteration).
class SqlStorageCursor {
  constructor(rows) { this.rows = rows; this.rowsRead = rows.length; this.rowsWritten = 0; }
  toArray() { return this.rows; }
  one() {
    if (this.rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${this.rows.length}.`);
    return this.rows[0];
  }
  [Symbol.iterator]() { return this.rows[Symbol.iterator](); }
}
class SqlStorage {
  constructor() { this.db = new DatabaseSync(":memory:"); this.statements = new PreparedCache(this.db); }
  exec(query, ...bindings) { return standIn.time(() => this._exec(query, bindings)); }
  _exec(query, bindings) {
    const { stmt, reads } = this.statements.get(query);
    if (reads) return new SqlStorageCursor(stmt.all(...bindings).map((r) => ({ ...r })));
    stmt.run(...bindings);
    return new SqlStorageCursor([]);
  }
  get databaseSize() { return 0; }
}
class DurableObjectStorage {
  constructor() { this.sql = new SqlStorage(); }
}
class DurableObjectId {
  constructor(hex, name) { this.hex = hex; this.name = name; }
  toString() { return this.hex; }
  equals(other) { return other && other.hex === this.hex; }
}
class DurableObjectState {
  constructor(id) { this.id = id; this.storage = new DurableObjectStorage(); }
  async blockConcurrencyWhile(callback) { return callback(); }
  waitUntil(p) { waitUntil.push(p); }
}
// A Durable Object namespace binding: stubs whose RPC calls reach the worker's Python class, built
// once per id as workerd builds it (`Cls(state, env)`), through the harness (hooks.durable).
let hooks = {};
class DurableObjectNamespace {
  constructor(className) { this.className = className; }
  idFromName(name) {
    let h = 0n;
    for (const c of name) h = (h * 131n + BigInt(c.codePointAt(0))) % (1n << 256n);
    return new DurableObjectId(h.toString(16).padStart(64, "0"), name);
  }
  get(id) {
    const className = this.className;
    return new Proxy({ id }, {
      get(obj, prop) {
        if (prop in obj || typeof prop === "symbol" || prop === "then") return obj[prop];
        return async (...args) => hooks.durable(className, id.toString(), prop, args);
      },
    });
  }
  getByName(name) { return this.get(this.idFromName(name)); }
}
class DispatchNamespace {
  get(name) { return serviceStub(name); }
}
// The Rate Limiting binding: workerd's class is `Ratelimit`, the name the SDK recognises and wraps (it
// converts the options dict to a JS object and the answer to a JsDict). Options as miniflare checks
// them; `limit` calls per key per window, counters shared by bindings of one namespace_id. Windows
// start when the runner does (not at multiples of the period, as miniflare's and the local binding's
// do), so that a run never straddles a boundary. Every call is recorded with its key.
let rateLimitCounters = new Map();
let rateLimitStarted = Date.now();
class Ratelimit {
  constructor(name, spec) {
    this.name = name; this.namespaceId = spec.namespace_id; this.limitVal = spec.limit; this.period = spec.period;
  }
  async limit(options) { return standIn.time(() => this._limit(options)); }
  _limit(options) {
    if (typeof options !== "object" || options === null) throw new Error("invalid rate limit options");
    const bad = Object.keys(options).filter((k) => k !== "key");
    if (bad.length) throw new Error(`bad rate limit options: [${bad.join(",")}]`);
    const { key } = options;
    if (typeof key !== "string") throw new Error(`invalid key: ${key}`);
    const window = Math.floor((Date.now() - rateLimitStarted) / (this.period * 1000));
    const id = `${this.namespaceId}/${this.period}`;
    let counts = rateLimitCounters.get(id);
    if (!counts || counts.window !== window) rateLimitCounters.set(id, (counts = { window, keys: new Map() }));
    const spent = counts.keys.get(key) ?? 0;
    const success = spent < this.limitVal;
    if (success) counts.keys.set(key, spent + 1);
    calls.push({ binding: this.name, method: "limit", key, success });
    return { success };
  }
}
// What workerd hands `scheduled` and `queue`.
class ScheduledController {
  constructor(cron, scheduledTime) { this.cron = cron; this.scheduledTime = scheduledTime; }
  noRetry() {}
}
let settled;
class Message {
  constructor(m) {
    this.id = m.id; this.timestamp = new Date(m.timestamp ?? 0); this.body = m.body; this.attempts = m.attempts ?? 1;
  }
  ack() { settled.acked.push(this.id); }
  retry(options) { settled.retried.push({ id: this.id, delaySeconds: options?.delaySeconds ?? null }); }
}
class MessageBatch {
  constructor(queue, messages) { this.queue = queue; this.messages = messages.map((m) => new Message(m)); }
  ackAll() { settled.ackAll = true; }
  retryAll() { settled.retryAll = true; }
}
// The queue stage's messages: job.queue.messages, then (job.queue.from_sent: a producer binding's name)
// every message the worker sent to that binding in the stages before, ids `sent-1`, `sent-2`, ..., first
// attempt. Delays (`delaySeconds`) are not waited for: the batch is what Cloudflare would deliver in time.
function queueMessages(env) {
  const given = job.queue.messages ?? [];
  const from = job.queue.from_sent;
  if (!from) return given;
  const producer = env[from];
  if (!(producer instanceof WorkerQueue)) throw new Error(`queue.from_sent: ${from} is not a queue producer binding`);
  return [...given, ...producer.sent.map((m, i) => ({ id: `sent-${i + 1}`, body: m.body, attempts: 1, timestamp: m.timestamp }))];
}

function buildEnv() {
  const env = { ...job.vars };
  for (const [name, binding] of Object.entries(job.bindings)) {
    const { kind } = binding;
    env[name] = kind === "d1" ? new D1Database(d1Copy(name)) : kind === "kv" ? new KvNamespace()
      : kind === "queue" ? new WorkerQueue() : kind === "dispatch" ? new DispatchNamespace()
      : kind === "durable_object" ? new DurableObjectNamespace(binding.class_name)
      : kind === "ratelimit" ? new Ratelimit(name, binding) : serviceStub(name);
  }
  return env;
}

// job.d1_files {binding: SQLite file}: the D1 binding starts from a copy of that file (the job's own, removed
// after it), e.g. a database an earlier job left (job.save_d1) with its schema migrated and rows in it.
let d1Folder = null;
function d1Copy(name) {
  const source = job.d1_files?.[name];
  if (!source) return undefined;
  d1Folder ??= fs.mkdtempSync(path.join(os.tmpdir(), "dotdo-conformance-d1-"));
  const copy = path.join(d1Folder, `${name}.sqlite`);
  fs.copyFileSync(source, copy);
  return copy;
}

// What the worker prints, written to stderr a batch at a time (at most 20 ms late, and before the job's
// result), not one synchronous write per line: workerd collects a worker's console output, it does not
// hold the request while a line reaches a terminal. Written at once when it grows past 64 KiB.
const output = {
  lines: [], size: 0, timer: null, job: [],
  line(text) {
    if (this.job.length < 1000) this.job.push(text); // the job's first 1,000 lines: result.output
    this.lines.push(text);
    this.size += text.length;
    if (this.size > 65536) this.flush();
    else this.timer ??= nodeTimeout(() => this.flush(), 20).unref(); // not the worker's guarded setTimeout
  },
  flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.lines.length) process.stderr.write(this.lines.join("\n") + "\n");
    this.lines = [];
    this.size = 0;
  },
};
process.on("exit", () => output.flush()); // a worker that ends Node (process.exit) still shows what it printed
// A worker's console.log (and .info, .warn, .error, .debug) is its output too, as workerd collects it, not
// lines on the runner's stdout, which carries the results.
for (const level of ["log", "info", "warn", "error", "debug"]) {
  console[level] = (...args) => output.line(util.format(...args));
}

let waitUntil = [];

/** Run one job in a Pyodide of its own and answer its result object. */
async function runJob(thisJob) {
  job = thisJob;
  calls = [];
  hooks = {};
  rateLimitCounters = new Map();
  rateLimitStarted = Date.now();
  settled = { acked: [], retried: [], ackAll: false, retryAll: false };
  waitUntil = [];
  standIn.ms = 0;
  output.job = [];
  scope.global = false;
  const started = performance.now();
  // What the worker prints goes to stderr; stdout carries the one JSON result line.
  const pyodide = await loadPyodide({
    stdout: (text) => output.line(text),
    stderr: (text) => output.line(text),
    ...(job.snapshot ? { _loadSnapshot: fs.readFileSync(job.snapshot) } : {}),
  });
  const loadMs = performance.now() - started;
  pyodide.FS.mkdirTree(BUNDLE_AT);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: job.bundle }, BUNDLE_AT);
  if (bytecodeRoot) {
    pyodide.FS.mkdirTree(BYTECODE_AT);
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: bytecodeFolder(job.bundle) }, BYTECODE_AT);
    job.bytecode = BYTECODE_AT;
  }
  pyodide.FS.mkdirTree("/harness");
  for (const file of job.harness_files) {
    pyodide.FS.writeFile(`/harness/${path.basename(file)}`, fs.readFileSync(file, "utf8"));
  }
  const ctx = { waitUntil: (p) => waitUntil.push(p), passThroughOnException: () => {} };
  const env = buildEnv();
  let result;
  try {
    pyodide.runPython(`import sys; sys.path[:0] = ['${BUNDLE_AT}', '${BUNDLE_AT}/python_modules']; sys.path.append('/harness')`);
    const harness = pyodide.pyimport("conformance_harness");
    const requests = (job.requests ?? []).map((r) => () => new Request(`https://${job.host}${r.path}`, {
      method: r.method ?? "GET",
      headers: r.headers ?? {},
      body: r.body === undefined || r.body === null ? undefined : (typeof r.body === "string" ? r.body : JSON.stringify(r.body)),
    }));
    const js = {
      env, ctx, hooks, scope, requests, standIn,
      newDurableObjectState: (hex) => new DurableObjectState(new DurableObjectId(hex)),
      scheduledController: () => new ScheduledController(job.scheduled.cron, job.scheduled.scheduled_time ?? Date.now()),
      messageBatch: () => new MessageBatch(job.queue.queue, queueMessages(env)),
    };
    const run = await harness.run(pyodide.toPy(job), js);
    result = run.toJs({ dict_converter: Object.fromEntries });
  } catch (error) {
    result = { ok: false, stage: "runner", error: String(error && error.message ? error.message : error) };
  }
  await Promise.allSettled(waitUntil);
  // What each queue producer binding was sent, and (job.inspect: {label: [D1 binding, SQL]}) what the worker
  // left in its D1 databases once every stage ran: rows per label.
  result.sent = Object.fromEntries(
    Object.entries(env).filter(([, b]) => b instanceof WorkerQueue).map(([name, b]) => [name, b.sent]),
  );
  result.d1_executed = Object.fromEntries(
    Object.entries(env).filter(([, b]) => b instanceof D1Database).map(([name, b]) => [name, b.executed]),
  );
  result.inspected = {};
  for (const [label, [binding, sql]] of Object.entries(job.inspect ?? {})) {
    try {
      if (!(env[binding] instanceof D1Database)) throw new Error(`${binding} is not a D1 binding`);
      result.inspected[label] = env[binding].sqlite.prepare(sql).all().map((r) => ({ ...r }));
    } catch (error) {
      result.ok = false;
      result.stage = "inspect";
      result.error = `inspect ${label}: ${error.message ?? error}`;
    }
  }
  // job.save_d1 {binding: file}: what the worker left in that D1, written to `file` (a SQLite database).
  for (const [binding, file] of Object.entries(job.save_d1 ?? {})) {
    try {
      if (!(env[binding] instanceof D1Database)) throw new Error(`${binding} is not a D1 binding`);
      fs.rmSync(file, { force: true });
      env[binding].sqlite.prepare("VACUUM INTO ?").run(file);
    } catch (error) {
      result.ok = false;
      result.stage = "save_d1";
      result.error = `save_d1 ${binding}: ${error.message ?? error}`;
    }
  }
  for (const binding of Object.values(env)) if (binding instanceof D1Database) binding.sqlite.close();
  if (d1Folder) fs.rmSync(d1Folder, { recursive: true, force: true });
  d1Folder = null;
  result.output = output.job;
  result.settled = settled;
  result.calls = calls;
  result.pyodide_load_ms = Math.round(loadMs);
  result.pyodide_version = pyodide.version;
  result.from_snapshot = Boolean(job.snapshot);
  return result;
}

// `--serve`: each result is one line starting with RESULT_MARK on stdout (anything else printed there is
// not a result); the worker's own output goes to stderr.
const RESULT_MARK = "@@result ";
if (process.argv[2] === "--serve") {
  bytecodeRoot = process.argv[3] ?? null;
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let result;
    try {
      result = await runJob(JSON.parse(fs.readFileSync(line.trim(), "utf8")));
    } catch (error) {
      result = { ok: false, stage: "runner", error: String(error && error.stack ? error.stack : error) };
    }
    output.flush();
    process.stdout.write(RESULT_MARK + JSON.stringify(result) + "\n");
  }
} else {
  const result = await runJob(JSON.parse(fs.readFileSync(process.argv[2], "utf8")));
  output.flush();
  process.stdout.write(JSON.stringify(result) + "\n");
}
