"""The dispatcher: the one public front of the platform. Routes each request to a service's worker.

`<svc>.do`, `<svc>.staging.do`, `<svc>.dev.do` and `/api/<svc>/...` (prefix stripped) go to the
service `<svc>`: an account-level one (gateway, auth, db, deploy) over its service binding, any other
to the script `<svc>` in the dispatch namespace of this deployment's ENVIRONMENT (`env.DISPATCHER`).
"""

from workers import WorkerEntrypoint

from dispatch import dispatch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await dispatch(request, self.env)
