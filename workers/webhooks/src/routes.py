"""The webhooks HTTP API: the middleware stack, `/health`, the four receivers and the operations' routes.

`POST /stripe`, `/workos`, `/github` and `/resend` need no bearer token (each checks its provider's signature,
`receive.py`); every other route but `/health` and `/openapi.json` needs one, and `webhooks:admin`.
"""

from operations import service
from receive import PATHS, PROVIDERS, receiver

router = service.router(public=PATHS)  # request ids, access log, errors, authentication, GET /health
for provider in PROVIDERS:
    router.post(f"/{provider}")(receiver(provider))
service.serve(router)  # /events, /events/{id}, /events/{id}/replay, GET /openapi.json and POST /mcp
