"""The email HTTP API: the middleware stack, `/health`, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs a bearer token (checked by the auth service through
`AUTH_SERVICE`); each operation then checks its permission (`email:send`, `email:admin`, `email:events`).
"""

from operations import service

router = service.router()  # request ids, access log, errors, authentication, GET /health
service.serve(router)  # the operations' routes, GET /openapi.json and POST /mcp
