"""queue: background jobs. Typed jobs are enqueued once (idempotency keys), recorded in queue's own D1
(`QUEUE_DB`) and sent to the Cloudflare queue `queue-jobs`; this worker consumes it, retries failures with
exponential backoff, and records what exhausts its retries (from `queue-jobs-dlq`) or can never succeed
as dead letters, which admins list, replay or discard.

The entrypoint is thin: the operations (enqueue, get_job, list_jobs, job_types, and the dead-letter ones)
are declared once in `operations.py`, which gives this class their RPC methods and `routes.py` their routes
and MCP tools; `queue` hands both queues' batches to `consumer.py`.
"""

from workers import WorkerEntrypoint

import consumer
import routes
from operations import service


@service.entrypoint  # RPC: env.QUEUE_SERVICE.enqueue(principal, {"type": ..., "payload": {...}})
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)

    async def queue(self, batch, env, ctx):  # workerd passes as many of (event, env, ctx) as it takes
        await consumer.consume(batch, self.env)
