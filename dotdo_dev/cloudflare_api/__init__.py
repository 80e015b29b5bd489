"""A local stand-in for the part of Cloudflare's API the deploy worker calls (issue #12).

    from dotdo_dev.cloudflare_api import CloudflareAPI, platform_scripts
    app = CloudflareAPI(state_root, tokens={token}, account_scripts=platform_scripts(repo_root))

An ASGI app on loopback with Cloudflare's envelope and checks: script uploads into dispatch namespaces
and at account level (multipart, metadata, binding shapes, size limit, and the topology rule: a
service binding names an account-level script, else 400 code 10143), list, get and delete. The
account-level scripts it starts with are the platform's workers under each environment's name
(`platform_scripts`: `auth`, `auth-staging`, `auth-development`, ...).
Modules: `errors` (envelope, codes), `multipart`, `validation`, `store` (the state folder), `app`.
Not yet served by `make dev`, and uploaded scripts are stored, not run.
"""

from __future__ import annotations

from pathlib import Path

from dotdo_dev import registry
from dotdo_dev.cloudflare_api.app import CloudflareAPI
from dotdo_dev.cloudflare_api.errors import CloudflareError
from dotdo_dev.cloudflare_api.validation import DEFAULT_SIZE_LIMIT

_REPO = Path(__file__).resolve().parents[2]


def platform_workers(root: Path | None = None) -> tuple[str, ...]:
    """The platform's own workers: account-level on Cloudflare (docs/architecture.md, deployment topology),
    i.e. every service whose manifest says `placement = "account"` (the dispatcher among them)."""
    return tuple(registry.account_level(root or _REPO))


def platform_scripts(root: Path) -> list[str]:
    """The account-level scripts of the platform's workers in every environment their wrangler.jsonc
    declares, named as wrangler deploys them: `auth` (production, the top level), `auth-staging`,
    `auth-development` (`registry.environment_name`), so that an upload built for an environment may bind
    the platform's Workers of that environment."""
    from dotdo_dev.config import load_worker
    from dotdo_dev.wrangler import environments

    names = []
    for manifest in registry.read_manifests(root):
        config = manifest.folder / "wrangler.jsonc"
        if manifest.account_level and config.is_file():
            names += [load_worker(config, environment=environment).name for environment in environments(config)]
    return names


def __getattr__(name: str) -> object:
    # PLATFORM_WORKERS: read from the manifests when asked for, so that an edited manifest counts at once.
    if name == "PLATFORM_WORKERS":
        return platform_workers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_SIZE_LIMIT",
    "PLATFORM_WORKERS",
    "CloudflareAPI",
    "CloudflareError",
    "platform_scripts",
    "platform_workers",
]
