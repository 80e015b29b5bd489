"""auth: identity for the platform. API keys, users and organisations with roles and grants,
JWT sessions with rotating refresh tokens, WorkOS SSO. It keeps its records in a D1 of its own (`AUTH_DB`).

The entrypoint is thin: RPC methods and `fetch` (HTTP and MCP) call the domain modules. RPC
methods that act for someone take the `principal` that `validate_token` returned to the caller.
"""

from workers import WorkerEntrypoint

import api_keys
import cleanup
import principals
import routes
import sessions
import users
from shared.rpc import rpc_method


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
    async def check_permission(self, principal, permission: str, org_id: str | None = None) -> bool:
        return await principals.check_permission(self.env, principal, permission, org_id)

    # -- API keys ------------------------------------------------------------------------------------
    @rpc_method
    async def create_api_key(self, principal: dict, request: dict) -> dict:
        return await api_keys.create_api_key(self.env, principal, request)

    @rpc_method
    async def list_api_keys(self, principal: dict, owner_id: str | None = None, include_revoked: bool = False) -> list:
        return await api_keys.list_api_keys(self.env, principal, owner_id, include_revoked)

    @rpc_method
    async def revoke_api_key(self, principal: dict, key_id: str) -> dict:
        return await api_keys.revoke_api_key(self.env, principal, key_id)

    @rpc_method
    async def create_api_key_for_user(self, principal: dict, user_id: str, request: dict) -> dict:
        """A key owned by `user_id`, within the caller's permissions and the user's (needs apikeys:admin)."""
        return await api_keys.create_api_key_for_user(self.env, principal, user_id, request)

    # -- users and roles -------------------------------------------------------------------------------
    @rpc_method
    async def create_user(self, principal: dict, request: dict) -> dict:
        """A user without SSO: {email, name, role, org_id?} (needs users:admin)."""
        return await users.create_user(self.env, principal, request)

    @rpc_method
    async def get_user(self, user_id: str) -> dict:
        return users.public_user(await users.get_user(self.env, user_id))

    @rpc_method
    async def set_user_role(self, principal: dict, user_id: str, role: str) -> dict:
        return await users.set_role(self.env, principal, user_id, role)

    @rpc_method
    async def set_user_disabled(self, principal: dict, user_id: str, disabled: bool) -> dict:
        return await users.set_disabled(self.env, principal, user_id, disabled)

    @rpc_method
    async def grant_permission(self, principal: dict, user_id: str, permission: str, org_id: str | None = None) -> dict:
        return await users.grant(self.env, principal, user_id, permission, org_id)

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

    # -- cron: housekeeping ------------------------------------------------------------------------------
    async def scheduled(self, controller, env, ctx):  # workerd always passes all three
        await cleanup.remove_expired(self.env)
