"""How the benchmarks put their figures into the docs (benchmarks/figures.py, pyodide_paths.markdown)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import figures  # noqa: E402


def test_a_block_replaces_only_what_is_between_its_own_markers(tmp_path):
    docs = tmp_path / "performance.md"
    docs.write_text(
        "# Performance\n\nintro\n<!-- bench:http -->\nold http\n<!-- /bench:http -->\nmiddle\n"
        "<!-- bench:pyodide -->\nold pyodide\n<!-- /bench:pyodide -->\nend\n"
    )
    figures.write_block("pyodide", "| new |", heading="Pyodide request paths", docs=docs)
    assert docs.read_text() == (
        "# Performance\n\nintro\n<!-- bench:http -->\nold http\n<!-- /bench:http -->\nmiddle\n"
        "<!-- bench:pyodide -->\n| new |\n<!-- /bench:pyodide -->\nend\n"
    )


def test_a_document_without_the_markers_gets_them_under_a_heading(tmp_path):
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\nintro\n")
    figures.write_block("http", "table", heading="The local platform over HTTP", docs=docs)
    figures.write_block("http", "table 2", heading="The local platform over HTTP", docs=docs)
    assert docs.read_text() == (
        "# Performance\n\nintro\n\n## The local platform over HTTP\n\n"
        "<!-- bench:http -->\ntable 2\n<!-- /bench:http -->\n"
    )


def test_the_pyodide_table_gives_medians_ratios_spreads_and_the_verdict():
    import pyodide_paths

    rows = {
        "hello GET /health": [{"first": 4.0, "warm": 0.2, "first_x": 1.0, "warm_x": 1.0, "standin": 0.0, "own_x": 1.0}]
        * 3,
        "db GET /things": [
            {"first": 10.0, "warm": 0.5, "first_x": 2.5, "warm_x": 2.5, "standin": 0.1, "own_x": 2.0},
            {"first": 12.0, "warm": 0.8, "first_x": 3.0, "warm_x": 4.0, "standin": 0.3, "own_x": 2.5},
            {"first": 11.0, "warm": 0.6, "first_x": 2.8, "warm_x": 2.9, "standin": 0.2, "own_x": 2.0},
        ],
    }
    table = pyodide_paths.markdown(rows, 3, 200).splitlines()
    head = "| operation | first ms | x | warm ms | x [spread] | of which stand-ins ms | x without them | target |"
    assert table[2] == head
    assert table[4] == "| hello GET /health | 4.0 | 1.0 | 0.20 | 1.0 [1.0-1.0] | 0.00 | 1.0 | met |"
    assert table[5] == "| db GET /things | 11.0 | 2.8 | 0.60 | 2.9 [2.5-4.0] | 0.20 | 2.0 | met |"
    rows["db GET /things"][2]["warm_x"] = 3.5  # the verdict is on the whole time, stand-ins included
    assert pyodide_paths.markdown(rows, 3, 200).splitlines()[5].endswith("| 3.5 [2.5-4.0] | 0.20 | 2.0 | **not met** |")
