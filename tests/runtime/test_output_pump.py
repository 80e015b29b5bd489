"""How the platform relays a worker's output (LocalPlatform._pump): tagged lines, the ready line, long lines."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from dotdo_dev.platform import PUMP_CHUNK, LocalPlatform, WorkerProcess


def _entry(reader: asyncio.StreamReader) -> WorkerProcess:
    config = SimpleNamespace(name="orders")
    return WorkerProcess(config, SimpleNamespace(stdout=reader), [])  # type: ignore[arg-type]


async def _pump(chunks: list[bytes]) -> WorkerProcess:
    reader = asyncio.StreamReader()
    entry = _entry(reader)
    platform = LocalPlatform.__new__(LocalPlatform)  # _pump needs no state of the platform
    task = asyncio.create_task(platform._pump(entry))
    for chunk in chunks:
        reader.feed_data(chunk)
        await asyncio.sleep(0)
    reader.feed_eof()
    await asyncio.wait_for(task, 5)
    return entry


@pytest.mark.asyncio
async def test_lines_split_across_reads_are_relayed_whole_and_tagged(capsys):
    entry = await _pump([b'{"a": 1}\n{"b"', b': 2}\n{"event": "ready", "worker": "orders"}\nlast', b" words"])
    err = capsys.readouterr().err
    assert err.splitlines() == ['[orders] {"a": 1}', '[orders] {"b": 2}', "[orders] last words"]
    assert entry.ready.is_set()  # the ready line is noted, not shown
    assert entry.output == ['{"a": 1}', '{"b": 2}', '{"event": "ready", "worker": "orders"}', "last words"]


@pytest.mark.asyncio
async def test_a_line_longer_than_a_read_neither_stops_the_pump_nor_is_lost(capsys):
    huge = b"x" * (PUMP_CHUNK * 3 + 5)
    await _pump([huge[: PUMP_CHUNK + 7], huge[PUMP_CHUNK + 7 :] + b"\nafter\n"])
    err = capsys.readouterr().err
    shown = err.splitlines()
    assert shown[-1] == "[orders] after"
    assert "".join(line.removeprefix("[orders] ") for line in shown[:-1]) == huge.decode()


@pytest.mark.asyncio
async def test_only_the_last_200_lines_are_kept(capsys):
    entry = await _pump([b"".join(f"line {n}\n".encode() for n in range(450))])
    assert entry.output == [f"line {n}" for n in range(250, 450)]
    assert len(capsys.readouterr().err.splitlines()) == 450
