"""Run the real `wrangler` (npm, pinned in package.json) under the Node 22 that npm installs (`node@22`).

wrangler 4 needs Node >= 22.12; machines here have Node 20, so `node_modules/node/bin/node` runs it.
`deploy --dry-run --outdir` works offline: it validates `wrangler.jsonc` and writes the upload bundle.

About a third of a dry run's CPU time is Node compiling wrangler's 15 MB `cli.js`: Node's compile
cache (`NODE_COMPILE_CACHE`, kept in `node_modules/.cache/`) lets every run after the first skip it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class WranglerResult:
    config: Path
    environment: str | None
    returncode: int
    output: str

    @property
    def warnings(self) -> list[str]:
        """wrangler's WARNING blocks (config problems it tolerates but reports)."""
        blocks = re.split(r"\n(?=▲ |✘ )", self.output)
        return [b.strip() for b in blocks if "[WARNING]" in b]

    @property
    def errors(self) -> list[str]:
        blocks = re.split(r"\n(?=▲ |✘ )", self.output)
        return [b.strip() for b in blocks if "[ERROR]" in b]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.warnings and not self.errors


def command(root: Path) -> list[str]:
    """`node wrangler.js` from the repo's node_modules (run `make bootstrap` first)."""
    root = root.resolve()
    node = root / "node_modules" / "node" / "bin" / "node"
    script = root / "node_modules" / "wrangler" / "bin" / "wrangler.js"
    for path in (node, script):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `make bootstrap` (npm ci)")
    return [str(node), str(script)]


def compile_cache(root: Path) -> Path | None:
    """Where Node keeps the code it compiled for wrangler: beside the packages, shared by repo copies.

    Node checks each entry against the source it was compiled from and writes entries atomically,
    so concurrent runs and a changed wrangler are safe; a stale or broken entry is compiled again.
    The folder is made here (Node 22 can spin on a base folder it fails to make): None if it cannot be,
    and wrangler then runs without the cache.
    """
    folder = root.resolve() / "node_modules" / ".cache" / "node-compile-cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder


def dry_run(root: Path, config: Path, outdir: Path, *, environment: str | None = None) -> WranglerResult:
    """`wrangler deploy --dry-run` for one config: validation plus the bundle wrangler would upload."""
    args = [*command(root), "deploy", "--dry-run", "--outdir", str(outdir), "--config", str(config)]
    # `--env=` names the top level explicitly; without it wrangler warns when `env` blocks exist.
    args.append(f"--env={environment or ''}")
    with tempfile.TemporaryDirectory(prefix="wrangler-logs-") as logs:  # not in outdir: that is the bundle
        env = {
            **os.environ,
            "WRANGLER_SEND_METRICS": "false",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
            "CI": "true",
            "WRANGLER_LOG_PATH": logs,
        }
        cache = None if os.environ.get("NODE_COMPILE_CACHE") else compile_cache(root)
        if cache is not None:
            env["NODE_COMPILE_CACHE"] = str(cache)
        proc = subprocess.run(  # noqa: S603 - fixed program (the repo's wrangler), arguments built here
            args,
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=180,
            check=False,
        )
    return WranglerResult(config, environment, proc.returncode, _ANSI.sub("", proc.stdout))


def environments(config: Path) -> list[str | None]:
    """The top level (None) and every `env.<name>` block of a config."""
    from dotdo_dev import jsonc

    raw = jsonc.load(config)
    envs = raw.get("env") if isinstance(raw, dict) else None
    return [None, *sorted(envs)] if isinstance(envs, dict) else [None]


def repo_configs(root: Path) -> list[Path]:
    """Every `wrangler.jsonc` in the repo (not templates, dependencies or local state)."""
    skip = {"node_modules", ".state", ".venv", "templates", ".cache", "python_modules", ".git"}
    found = []
    for path in sorted(root.rglob("wrangler.jsonc")):
        if not skip.intersection(path.relative_to(root).parts):
            found.append(path)
    return found
