// A queue scenario under real miniflare 4: messages are sent, a consumer acks, retries or throws
// per message, and exhausted messages reach a dead-letter queue. Prints, per message, the attempts
// the consumer saw and whether it was dead-lettered. Compared with the local Queues in tests.
//
//   node queue_scenario.mjs scenario.json     # {"messages": [{"n": 1, "mode": "ack"|"retry"|"throw"|"ack-then-throw"}], "max_retries": 2}
import fs from "node:fs";
import { Miniflare } from "miniflare";

const scenario = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

const script = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/send") {
      await env.JOBS.sendBatch((await request.json()).map((body) => ({ body })));
      return new Response("sent");
    }
    const state = {};
    for (const key of (await env.KV.list()).keys) state[key.name] = JSON.parse(await env.KV.get(key.name));
    return Response.json(state);
  },
  async queue(batch, env) {
    if (batch.queue === "jobs-dlq") {
      for (const m of batch.messages) { await env.KV.put("dead:" + m.body.n, JSON.stringify(true)); m.ack(); }
      return;
    }
    let fail = false;
    for (const m of batch.messages) {
      const key = "seen:" + m.body.n;
      const seen = JSON.parse((await env.KV.get(key)) || "[]");
      seen.push(m.attempts);
      await env.KV.put(key, JSON.stringify(seen));
      if (m.body.mode === "ack") m.ack();
      else if (m.body.mode === "retry") m.retry();
      else if (m.body.mode === "ack-then-throw") { m.ack(); fail = true; }
      else fail = true;
    }
    if (fail) throw new Error("failing on purpose");
  },
};`;

const mf = new Miniflare({
  modules: true,
  script,
  kvNamespaces: ["KV"],
  queueProducers: { JOBS: "jobs" },
  queueConsumers: {
    jobs: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: scenario.max_retries, deadLetterQueue: "jobs-dlq" },
    "jobs-dlq": { maxBatchSize: 10, maxBatchTimeout: 1 },
  },
  compatibilityDate: "2026-07-01",
});
try {
  await mf.dispatchFetch("http://localhost/send", { method: "POST", body: JSON.stringify(scenario.messages) });
  const expected = scenario.messages.filter((m) => m.mode !== "ack").length;
  let state = {};
  const deadline = Date.now() + 60_000;
  let stable = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await (await mf.dispatchFetch("http://localhost/state")).json();
    const dead = Object.keys(next).filter((k) => k.startsWith("dead:")).length;
    stable = JSON.stringify(next) === JSON.stringify(state) ? stable + 1 : 0;
    state = next;
    if (dead >= expected && stable >= 4) break;
  }
  process.stdout.write(JSON.stringify(state) + "\n");
} finally {
  await mf.dispose();
}
