"""Settings read from env: strings, stripped, blank as missing."""

import pytest

from shared.settings import setting


class Env:
    def __init__(self, **values):
        self.__dict__.update(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [({"X": "a"}, "a"), ({"X": "  a  "}, "a"), ({"X": ""}, None), ({"X": "   "}, None), ({}, None), ({"X": 60}, "60")],
)
def test_setting(values, expected):
    assert setting(Env(**values), "X") == expected
