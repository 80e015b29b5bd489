"""The package surface: a short list of names, and no pydantic on the import path of routing and middleware."""

import subprocess
import sys

import shared


def test_public_names():
    assert sorted(shared.__all__) == ["AppError", "Context", "Router", "error_response", "new_id", "success_response"]
    for name in shared.__all__:
        assert getattr(shared, name) is not None


def test_routing_and_middleware_do_not_import_pydantic():
    # a worker's imports are its cold start: pydantic is imported only by the modules that need it
    code = "import sys, shared, shared.middleware, shared.rpc, shared.ids; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
