"""The GitHub Actions workflows (.github/workflows/), parsed: triggers, secrets, and the commands they run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dotdo_dev import cli, deploy_cli

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
MAKE_TARGET = re.compile(r"^([a-z][a-z-]*):", re.MULTILINE)


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), triggers
    return triggers


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _runs(workflow: dict[str, Any]) -> list[str]:
    return [line.strip() for step in _steps(workflow) for line in step.get("run", "").splitlines() if line.strip()]


def _make_targets() -> set[str]:
    return set(MAKE_TARGET.findall((REPO / "Makefile").read_text()))


def test_the_workflow_files_are_the_two_expected() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["deploy.yml", "test.yml"]


def test_tests_run_on_every_push_and_pull_request() -> None:
    triggers = _triggers(_load("test.yml"))
    assert set(triggers) == {"push", "pull_request"}
    assert not triggers["push"]  # no branch filter: every push
    assert not triggers["pull_request"]


def test_deploy_runs_on_main_and_by_hand_only() -> None:
    triggers = _triggers(_load("deploy.yml"))
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}


@pytest.mark.parametrize("name", ["test.yml", "deploy.yml"])
def test_the_setup_is_checkout_python_3_11_and_node_20(name: str) -> None:
    uses = {step["uses"].split("@")[0]: step for step in _steps(_load(name)) if "uses" in step}
    assert set(uses) == {"actions/checkout", "actions/setup-python", "actions/setup-node"}
    assert uses["actions/setup-python"]["with"]["python-version"] == "3.11"  # a string: 3.10 would be 3.1
    assert uses["actions/setup-node"]["with"]["node-version"] == "20"
    assert _runs(_load(name))[0] == "make test"


def test_deploy_tests_first_then_deploys_every_worker_to_production() -> None:
    assert _runs(_load("deploy.yml")) == ["make test", ".venv/bin/dotdo deploy-all --env production"]


def test_the_only_secret_is_deploy_api_key_and_no_cloudflare_token_appears() -> None:
    texts = {p.name: p.read_text() for p in WORKFLOWS.iterdir()}
    assert re.findall(r"secrets\.(\w+)", texts["deploy.yml"]) == ["DEPLOY_API_KEY"]
    assert re.findall(r"secrets\.(\w+)", texts["test.yml"]) == []
    for name, text in texts.items():
        for forbidden in ("CLOUDFLARE_API_TOKEN", "CF_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "wrangler deploy"):
            assert forbidden not in text, (name, forbidden)
    step = next(s for s in _steps(_load("deploy.yml")) if "dotdo deploy-all" in s.get("run", ""))
    assert step["env"] == {
        "DEPLOY_API_KEY": "${{ secrets.DEPLOY_API_KEY }}",
        "DEPLOY_URL": "${{ vars.DEPLOY_URL || 'https://deploy.do' }}",
    }
    assert deploy_cli.DEFAULT_DEPLOY_URL == "https://deploy.do"


@pytest.mark.parametrize("name", ["test.yml", "deploy.yml"])
def test_every_command_they_run_exists(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make X` is a Makefile target; `.venv/bin/dotdo ...` parses as a dotdo command (run with a stand-in)."""
    called: list[tuple[str, bool]] = []
    monkeypatch.setattr(deploy_cli, "deploy_all", lambda root, env, dry_run: called.append((env, dry_run)) or 0)
    monkeypatch.setattr(deploy_cli, "deploy_one", lambda root, svc, env, dry_run: called.append((env, dry_run)) or 0)
    targets = _make_targets()
    for line in _runs(_load(name)):
        argv = shlex.split(line)
        if argv[0] == "make":
            assert argv[1] in targets, line
        elif argv[0] == ".venv/bin/dotdo":
            with pytest.raises(SystemExit) as exit_:
                cli.main(argv[1:])
            assert exit_.value.code == 0, line
        else:
            pytest.fail(f"{name} runs {line!r}: neither a make target nor a dotdo command")
    if name == "deploy.yml":
        assert called == [("production", False)]


def test_the_console_script_is_dotdo() -> None:
    assert 'dotdo = "dotdo_dev.cli:main"' in (REPO / "pyproject.toml").read_text()


def test_make_deploy_runs_the_same_commands_locally() -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"ENV", "SERVICE", "DRY_RUN", "MAKEFLAGS"}}

    def dry(*args: str) -> list[str]:
        out = subprocess.run(
            ["make", "-n", "-o", ".venv/.installed", "-o", "node_modules/.installed", "deploy", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env=environ,
        )
        return [line for line in out.stdout.splitlines() if "bin/dotdo " in line]

    assert dry("ENV=staging") == ['.venv/bin/dotdo deploy-all --env "staging" ']
    assert dry("ENV=production", "SERVICE=db", "DRY_RUN=1") == [
        '.venv/bin/dotdo deploy "db" --env "production" --dry-run'
    ]
    # -o: the environment counts as made. Without it a pyproject.toml newer than .venv/.installed made this
    # test reinstall the venv, and a missing stamp ran `npm ci`, emptying node_modules under every other
    # suite running at the time.
    no_bootstrap = ["-o", ".venv/.installed", "-o", "node_modules/.installed"]
    result = subprocess.run(
        ["make", *no_bootstrap, "deploy"], cwd=REPO, capture_output=True, text=True, check=False, env=environ
    )
    assert result.returncode != 0
    assert "usage: make deploy ENV=<environment>" in result.stdout
    assert "pip install" not in result.stdout + result.stderr
    assert "npm ci" not in result.stdout + result.stderr


def test_pyyaml_is_pinned_like_the_other_dev_packages() -> None:
    assert '"pyyaml==6.0.3"' in (REPO / "pyproject.toml").read_text()
    assert "PyYAML==6.0.3" in (REPO / "constraints.txt").read_text().splitlines()
