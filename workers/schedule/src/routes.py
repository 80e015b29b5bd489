"""The schedule HTTP API: the middleware stack, `/health`, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs `Authorization: Bearer <API key or token>`,
checked by the auth service (AUTH_SERVICE); each operation then checks its own permission.
"""

from operations import service

router = service.router()  # request ids, access log, errors, authentication, GET /health
service.serve(router)  # every operation's route, GET /openapi.json and POST /mcp
