import pytest

from dotdo_dev.testing import worker_root

ROOT = worker_root(__file__)  # puts workers/gateway/src on sys.path, as Cloudflare's module root


@pytest.fixture
def root():
    return ROOT
