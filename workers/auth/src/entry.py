"""auth: identity for the platform. API keys, users and organisations with roles and grants,
JWT sessions with rotating refresh tokens, WorkOS SSO. It keeps its records in a D1 of its own (`AUTH_DB`).

The entrypoint is thin. What a signed-in principal does (its keys, users, sessions) is declared
once in `operations.py`, which gives this class those RPC methods (each takes first the principal
`validate_token` returned to the caller) and `routes.py` their routes and MCP tools. Written here:
the methods that make a principal (`validate_token`, `validate_api_key`) and end a session.
"""

from workers import WorkerEntrypoint

import api_keys
import principals
import routes
import sessions
from operations import service
from shared.rpc import rpc_method


@service.entrypoint  # me, create_api_key, list_api_keys, create_user, ...: the operations in operations.py
class Default(WorkerEntrypoint):
    # -- who is calling ------------------------------------------------------------------------------
    @rpc_method
    async def validate_token(self, token: str, request_id: str | None = None) -> dict:
        """The principal of a bearer credential (API key or JWT), or 401. `request_id` goes into auth's logs."""
        return await principals.validate_token(self.env, token, request_id)

    @rpc_method
    async def validate_api_key(self, key: str) -> dict:
        return await api_keys.validate_api_key(self.env, key)

    @rpc_method
    async def check_user_permission(self, user_id: str, permission: str, org_id: str | None = None) -> bool:
        """Whether a user holds `permission` by role and grants (in `org_id`): for services deciding for a
        user they know by id. (`check_permission(principal, ...)` checks a credential the caller holds.)"""
        return await principals.check_permission(self.env, user_id, permission, org_id)

    # -- sessions ----------------------------------------------------------------------------------------
    @rpc_method
    async def refresh(self, refresh_token: str) -> dict:
        return await sessions.refresh(self.env, refresh_token)

    @rpc_method
    async def logout(self, session_id: str) -> bool:
        return await sessions.revoke_session(self.env, session_id, reason="logout")

    # -- HTTP and MCP ------------------------------------------------------------------------------------
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)

    # Housekeeping has no handler here: the schedule service calls `remove_expired` (operations.py).
