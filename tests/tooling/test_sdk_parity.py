"""The local `workers` module keeps the real SDK's names and signatures (read from its PyPI wheel)."""

import types
from pathlib import Path

import pytest
import workers

from dotdo_dev import sdk_parity

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "sdk-wheels"


def test_local_sdk_matches_the_real_sdk():
    assert sdk_parity.compare(workers, CACHE) == []


def test_names_the_workers_use_are_present():
    # What issue #2 asks the local module to provide; each must also pass the comparison above.
    for name in ["WorkerEntrypoint", "Request", "Response", "fetch", "handler", "Headers", "DurableObject"]:
        assert name in workers.__all__


def _drifted_module(**replacements):
    module = types.SimpleNamespace(**{name: getattr(workers, name) for name in workers.__all__})
    module.__all__ = list(workers.__all__)
    for name, value in replacements.items():
        setattr(module, name, value)
        if name not in module.__all__:
            module.__all__.append(name)
    return module


def test_a_renamed_parameter_is_reported():
    async def fetch(url, **other_options):  # the real first parameter is `resource`
        raise NotImplementedError

    problems = sdk_parity.compare(_drifted_module(fetch=fetch), CACHE)
    assert problems == [
        "workers.fetch: local async function(url:positional_or_keyword, other_options:var_keyword) != "
        "real async function(resource:positional_or_keyword, other_options:var_keyword)"
    ]


def test_a_method_the_sdk_lacks_is_reported():
    class Request(workers.Request):
        async def form(self):
            raise NotImplementedError

    problems = sdk_parity.compare(_drifted_module(Request=Request), CACHE)
    assert problems == ["workers.Request.form: not in the real SDK"]


def test_a_sync_method_that_is_async_in_the_sdk_is_reported():
    class Response(workers.Response):
        def text(self):
            return ""

    problems = sdk_parity.compare(_drifted_module(Response=Response), CACHE)
    assert len(problems) == 1
    assert problems[0].startswith("workers.Response.text: local method() != real async")


def test_an_extra_export_is_reported():
    problems = sdk_parity.compare(_drifted_module(LocalOnly=object), CACHE)
    assert problems == ["workers.LocalOnly: exported locally but not by the real SDK"]


@pytest.mark.parametrize("name", sorted(sdk_parity.CLASSES))
def test_every_compared_class_exists_locally(name):
    assert isinstance(getattr(workers, name), type)
