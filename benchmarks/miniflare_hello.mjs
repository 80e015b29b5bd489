// The peer of benchmarks/http_paths.py: real miniflare 4 serving a JavaScript hello-world on 127.0.0.1.
// Prints {"url": ...} once it answers; exits when its stdin closes.
import { Miniflare } from "miniflare";

const mf = new Miniflare({
  modules: true,
  script: 'export default { fetch() { return new Response("hello") } }',
  host: "127.0.0.1",
  port: 0,
});
const url = await mf.ready;
console.log(JSON.stringify({ url: url.href }));
process.stdin.resume();
process.stdin.on("end", async () => {
  await mf.dispose();
  process.exit(0);
});
