"""schedule: the platform's cron tasks. Each cron of `wrangler.jsonc` fires `scheduled`, which runs
exactly the tasks declared for that cron (`tasks.py`) through `runner.py`: the task's switch, a lease
against overlapping runs, retries with backoff, a history row per run in schedule's own D1
(`SCHEDULE_DB`).

The entrypoint is thin: the operations (list_tasks, get_task, run_task, enable_task, disable_task,
list_history) are declared once in `operations.py`, which gives this class their RPC methods and
`routes.py` their routes and MCP tools.
"""

from workers import WorkerEntrypoint

import routes
import runner
from operations import service


@service.entrypoint  # list_tasks, run_task, list_history, ...: the operations in operations.py
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)

    async def scheduled(self, controller, env, ctx):  # workerd passes as many of (event, env, ctx) as it takes
        await runner.run_cron(self.env, controller.cron, controller.scheduledTime)
