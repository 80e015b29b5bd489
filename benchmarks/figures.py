"""Where the benchmarks put their figures: a block of docs/performance.md between two markers of their own."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_block(name: str, report: str, *, heading: str, docs: Path = DOCS) -> None:
    """Put `report` between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in `docs`, replacing what was there;
    a document without the markers gets them at its end, under `## heading`."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = docs.read_text() if docs.exists() else "# Performance\n"
    block = f"{start}\n{report}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    docs.write_text(text)
