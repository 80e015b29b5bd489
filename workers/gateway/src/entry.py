"""gateway: one front door for the platform's services, with enforced authentication, exact rate
limits, request ids and access logs. See `gateway.py` for the path of a request, `routing.py`
for the table, `rate_limiter.py` for the Durable Object that counts.
"""

from workers import WorkerEntrypoint

import routes
from rate_limiter import RateLimiter  # the Durable Object class must be exported by the main module

__all__ = ["Default", "RateLimiter"]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
