"""`create-service`: render a service template into `workers/<name>/` and register the service.

    dotdo create-service --name orders --type domain [--description "..."]

Every service gets `templates/_base/` (its manifest `service.toml`, routes stack, pyproject, tests
conftest), then `templates/<type>/` on top (a file of both: the type's wins). Files ending in `.j2`
are rendered with jinja2 (the suffix is dropped), other files are copied. Names in file paths may
use `__name__`-style placeholders: `__snake__` becomes the snake_case name.

Nothing outside the new folder is edited by hand: the new manifest is read by `make registry`
(`dotdo_dev.registry`), run at the end, which regenerates the platform's registry
(`shared/registry.py`: gateway routes, roles). A generated service lives in the dispatch namespace
(`placement = "namespace"`): no service binding names it (on Cloudflare none could), the dispatcher
and the gateway reach it through their `dispatch_namespaces` bindings.
"""

from __future__ import annotations

import keyword
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dotdo_dev import compat, jsonc, registry

NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MAX_NAME = 40  # script names may have 63 characters; leave room for "-staging"/"-development"
RESERVED = frozenset(
    {"dispatcher", "deploy", "api", "www", "shared", "templates", "tests", "test", "wrangler", "workers", "platform"}
)


#: What every service type has (manifest, routes stack, pyproject, tests conftest); a type's own files win.
BASE = "_base"


class CreateServiceError(ValueError):
    """The service cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class ServiceNames:
    """The spellings of a service name that templates use."""

    name: str  # kebab-case: script name, folder, host label (`orders-v2`)
    snake: str  # snake_case: Python identifiers, MCP tool prefix (`orders_v2`)
    pascal: str  # PascalCase: class names (`OrdersV2`)
    binding: str  # UPPER_SNAKE: service-binding name in other workers (`ORDERS_V2_SERVICE`)
    title: str  # human-readable (`Orders V2`)

    @classmethod
    def from_name(cls, name: str) -> ServiceNames:
        parts = name.split("-")
        return cls(
            name=name,
            snake="_".join(parts),
            pascal="".join(p.capitalize() for p in parts),
            binding="_".join(p.upper() for p in parts) + "_SERVICE",
            title=" ".join(p.capitalize() for p in parts),
        )


def validate_name(root: Path, name: str) -> ServiceNames:
    """Check a new service name; raise `CreateServiceError` saying what is allowed."""
    if not name:
        raise CreateServiceError("a name is required (--name orders)")
    if len(name) > MAX_NAME:
        raise CreateServiceError(f"name {name!r} is too long ({len(name)} > {MAX_NAME} characters)")
    if not NAME.match(name):
        raise CreateServiceError(
            f"invalid name {name!r}: use lower-case letters, digits and single hyphens, starting with a letter "
            "(e.g. orders, order-history)"
        )
    names = ServiceNames.from_name(name)
    if name in RESERVED:
        raise CreateServiceError(f"{name!r} is reserved by the platform")
    if keyword.iskeyword(names.snake) or names.snake in sys.stdlib_module_names:
        raise CreateServiceError(f"{name!r} would shadow the Python name {names.snake!r}; choose another name")
    if (root / "workers" / name).exists():
        raise CreateServiceError(f"workers/{name} already exists; refusing to overwrite it")
    if any(m.name == name for m in registry.read_manifests(root)):
        raise CreateServiceError(f"{name!r} already has a manifest ({registry.MANIFEST})")
    return names


def available_types(root: Path) -> list[str]:
    """The service types: every folder of `templates/` with a `template.json` (`_base` is not one)."""
    return sorted(p.name for p in (root / "templates").iterdir() if p.is_dir() and (p / "template.json").is_file())


def render(template_dir: Path, target: Path, context: dict[str, object]) -> list[Path]:
    """Render every file of `template_dir` into `target` (a file already there is replaced)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - renders Python/JSONC/Markdown source, not HTML
    )
    written: list[Path] = []
    for source in sorted(template_dir.rglob("*")):
        rel = source.relative_to(template_dir)
        if source.is_dir() or rel.name == "template.json" or "__pycache__" in rel.parts:
            continue
        out_rel = Path(str(rel).replace("__snake__", str(context["snake"])))
        out = target / out_rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".j2":
            out = out.with_suffix("")
            out.write_text(env.get_template(rel.as_posix()).render(**context), encoding="utf-8")
        else:
            shutil.copyfile(source, out)
        written.append(out)
    return written


def create_service(root: Path, *, name: str, kind: str = "domain", description: str | None = None) -> Path:
    """Generate `workers/<name>` from `templates/<kind>` and register it. Returns the new folder."""
    names = validate_name(root, name)
    kinds = available_types(root)
    if kind not in kinds:
        raise CreateServiceError(f"unknown type {kind!r}; available: {', '.join(kinds)}")
    platform = jsonc.load(root / "wrangler" / "platform.jsonc")
    context = {
        "name": names.name,
        "snake": names.snake,
        "pascal": names.pascal,
        "binding": names.binding,
        "title": names.title,
        "description": description or f"The {names.title} service.",
        "type": kind,
        "compatibility_date": platform["compatibility_date"],
        "compatibility_flags": platform["compatibility_flags"],
        "python_modules_exclude": platform["python_modules"]["exclude"],
        "requires_python": compat.requires_python(
            compat.python_runtime(platform["compatibility_date"], platform["compatibility_flags"])
        ),
    }
    target = root / "workers" / names.name
    # Render into a temporary folder first, then move: a failure never leaves half a service behind.
    with tempfile.TemporaryDirectory(dir=root / "workers") as tmp:
        staging = Path(tmp) / names.name
        render(root / "templates" / BASE, staging, context)  # what every service has ...
        render(root / "templates" / kind, staging, context)  # ... and what this type adds or replaces
        staging.rename(target)
    registry.sync(root)  # the gateway's routes, the roles: from the new manifest
    return target
