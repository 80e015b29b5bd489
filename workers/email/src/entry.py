"""email: transactional email. Templates (jinja2, autoescaped, compiled at import) rendered with checked
variables, sent through Resend (httpx), every send recorded in email's own D1 (`EMAIL_DB`) and updated by
Resend's delivery events; a suppression list honoured; each caller's sends limited (`EMAIL_SEND_LIMITER`).

The entrypoint is thin: the operations (send, preview, templates, get_email, list_emails,
apply_delivery_event and the suppression ones) are declared once in `operations.py`, which gives this class
their RPC methods and `routes.py` their routes and MCP tools.
"""

from workers import WorkerEntrypoint

import routes
from operations import service


@service.entrypoint  # RPC: env.EMAIL_SERVICE.send(principal, {"to": [...], "template": ..., "data": {...}})
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
