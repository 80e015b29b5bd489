"""webhooks: inbound webhooks from Stripe, WorkOS, GitHub and Resend. The receivers (`receive.py`) check each
provider's signature and record every event once in webhooks' own D1 (`WEBHOOKS_DB`), then send it to the
Cloudflare queue `webhooks-events`; this worker consumes it (`consumer.py`) and applies the event's effect
exactly once (`handlers.py`). Admins list, read and replay events (`operations.py`).
"""

from workers import WorkerEntrypoint

import consumer
import routes
from operations import service


@service.entrypoint  # RPC: env.WEBHOOKS_SERVICE.list_events(principal, {"provider": "stripe"})
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)

    async def queue(self, batch, env, ctx):  # workerd passes as many of (event, env, ctx) as it takes
        await consumer.consume(batch, self.env)
