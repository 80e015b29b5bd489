"""The local Workers AI stand-in: the binding's call shape, answers shaped like Workers AI's, deterministic,
marked as placeholders, and Workers AI's error for a model that does not exist."""

import base64
import contextlib
import json
import struct
import sys
import textwrap
import zlib

import pytest
from pyodide.ffi import JsException, to_js

from dotdo_dev.runtime.bindings.ai import NOTICE, STAND_IN_HEADER, AIStandIn, InferenceUpstreamError
from dotdo_dev.testing import WorkerHarness

LLAMA = "@cf/meta/llama-3.1-8b-instruct"
BGE = "@cf/baai/bge-base-en-v1.5"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"


@pytest.fixture
def ai():
    return AIStandIn("AI")


def png_size_and_comment(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body, crc = (
            data[at + 4 : at + 8],
            data[at + 8 : at + 8 + length],
            data[at + 8 + length : at + 12 + length],
        )
        assert struct.unpack(">I", crc)[0] == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = body
        at += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    pixels = zlib.decompress(chunks[b"IDAT"])
    assert len(pixels) == height * (1 + 3 * width)
    return (width, height), chunks[b"tEXt"].decode()


# -- text generation ------------------------------------------------------------------------------------
async def test_prompt_gives_a_response_marked_as_a_stand_in(ai):
    result = await ai.run(LLAMA, {"prompt": "What is R2?"})
    assert result.response.startswith(f'[{LLAMA} stand-in] Placeholder reply to "What is R2?": ')
    assert result.dotdo_stand_in == NOTICE
    assert "deterministic placeholders, not a model" in NOTICE
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    assert json.loads(json.dumps(result))["response"] == result.response  # plain data for Response.json


async def test_the_same_input_gives_the_same_output_and_another_input_another(ai):
    one = await ai.run(LLAMA, {"prompt": "hello"})
    assert (await ai.run(LLAMA, {"prompt": "hello"})).response == one.response
    assert (await ai.run(LLAMA, {"prompt": "hello!"})).response != one.response
    other_model = await ai.run("@cf/meta/llama-3.2-1b-instruct", {"prompt": "hello"})
    assert other_model.response != one.response


async def test_messages_to_js_and_keyword_inputs(ai):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour"}]
    result = await ai.run(LLAMA, {"messages": messages})
    assert 'Placeholder reply to "Name a colour"' in result.response
    assert (await ai.run(LLAMA, to_js({"messages": messages}))).response == result.response
    assert (await ai.run(LLAMA, messages=messages)).response == result.response


async def test_streaming_gives_a_server_sent_events_body(ai):
    stream = await ai.run(LLAMA, {"prompt": "hi", "stream": True})
    text = bytes(stream).decode()
    assert text.startswith(f": {NOTICE}\n\n")
    assert text.endswith("data: [DONE]\n\n")
    pieces = [json.loads(line[6:])["response"] for line in text.split("\n\n") if line.startswith("data: {")]
    expected = (await ai.run(LLAMA, {"prompt": "hi"})).response
    assert "".join(pieces) == expected
    chunks = [chunk async for chunk in stream]
    assert b"".join(chunks) == bytes(stream)


async def test_responses_api_models_answer_output(ai):
    """OpenAI-style models take `input` and `instructions` and answer a Responses API object."""
    result = await ai.run("@cf/openai/gpt-oss-120b", {"instructions": "Be concise.", "input": "Why?"})
    assert result.object == "response"
    message = result.output[-1]
    assert (message.type, message.role) == ("message", "assistant")
    assert message.content[0].type == "output_text"
    assert 'Placeholder reply to "Why?"' in message.content[0].text
    assert result.dotdo_stand_in == NOTICE


# -- embeddings ------------------------------------------------------------------------------------------
async def test_embeddings_have_the_models_dimension_and_are_deterministic_unit_vectors(ai):
    result = await ai.run(BGE, {"text": ["a cat", "a dog", "a cat"]})
    assert result.shape == [3, 768]
    assert len(result.data) == 3
    assert all(len(vector) == 768 for vector in result.data)
    assert result.data[0] == result.data[2]
    assert result.data[0] != result.data[1]
    assert abs(sum(v * v for v in result.data[0]) - 1) < 1e-3
    single = await ai.run("@cf/baai/bge-small-en-v1.5", {"text": "a cat"})
    assert single.shape == [1, 384]
    assert (await ai.run(BGE, {"text": "a cat"})).data[0] == result.data[0]  # from the text alone


# -- text to image ---------------------------------------------------------------------------------------
async def test_text_to_image_gives_png_bytes(ai):
    image = await ai.run(SDXL, {"prompt": "a lighthouse", "width": 64, "height": 80})
    assert isinstance(image, bytes)
    size, comment = png_size_and_comment(image)
    assert size == (64, 80)
    assert comment == f"Comment\0dotdo {NOTICE}"
    assert await ai.run(SDXL, {"prompt": "a lighthouse", "width": 64, "height": 80}) == image
    assert await ai.run(SDXL, {"prompt": "a boat", "width": 64, "height": 80}) != image
    assert png_size_and_comment(await ai.run(SDXL, {"prompt": "x"}))[0] == (512, 512)


async def test_flux_answers_base64_in_json(ai):
    result = await ai.run("@cf/black-forest-labs/flux-1-schnell", {"prompt": "a fox", "width": 64, "height": 64})
    assert png_size_and_comment(base64.b64decode(result.image))[0] == (64, 64)


# -- other tasks, raw responses ------------------------------------------------------------------------------
async def test_translation_summary_and_classification(ai):
    translated = await ai.run("@cf/meta/m2m100-1.2b", {"text": "hello", "source_lang": "en", "target_lang": "fr"})
    assert translated.translated_text.startswith("[fr] ")
    assert (await ai.run("@cf/facebook/bart-large-cnn", {"input_text": "long text"})).summary
    labels = await ai.run("@cf/huggingface/distilbert-sst-2-int8", {"text": "great"})
    assert sorted(label.label for label in labels) == ["NEGATIVE", "POSITIVE"]
    assert abs(sum(label.score for label in labels) - 1) < 1e-3


async def test_return_raw_response_carries_the_marker_header(ai):
    response = await ai.run(LLAMA, {"prompt": "hi"}, {"returnRawResponse": True})
    assert response.headers.get(STAND_IN_HEADER) == NOTICE
    assert (await response.json())["result"]["response"].startswith(f"[{LLAMA} stand-in]")


# -- errors ----------------------------------------------------------------------------------------------
async def test_an_unknown_model_fails_as_workers_ai_fails(ai):
    with pytest.raises(InferenceUpstreamError) as caught:
        await ai.run("@cf/nobody/no-such-model", {"prompt": "x"})
    assert isinstance(caught.value, JsException)
    assert caught.value.name == "InferenceUpstreamError"
    assert caught.value.message == "5007: No such model @cf/nobody/no-such-model or task"


async def test_inputs_the_task_needs(ai):
    with pytest.raises(InferenceUpstreamError, match=r"5006: Invalid input: .* needs `prompt`"):
        await ai.run(LLAMA, {"text": "x"})
    with pytest.raises(InferenceUpstreamError, match="needs `text`"):
        await ai.run(BGE, {"prompt": "x"})
    with pytest.raises(InferenceUpstreamError, match="`width` must be an integer from 64 to 2048"):
        await ai.run(SDXL, {"prompt": "x", "width": 5000})
    with pytest.raises(TypeError, match="model name as a str"):
        await ai.run(None, {"prompt": "x"})


def test_other_methods_say_only_run_is_provided(ai):
    with pytest.raises(NotImplementedError, match=r"env\.AI\.gateway: the local stand-in for Workers AI"):
        ai.gateway("g")
    assert "not a model" in repr(ai)


# -- through a worker ------------------------------------------------------------------------------------------
ENTRY = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/image"):
            image = await self.env.AI.run("@cf/stabilityai/stable-diffusion-xl-base-1.0", {"prompt": "sun"})
            return Response(image, headers={"content-type": "image/png"})
        if request.url.endswith("/stream"):
            stream = await self.env.AI.run("@cf/meta/llama-3.1-8b-instruct", {"prompt": "hi", "stream": True})
            return Response(stream, headers={"content-type": "text/event-stream"})
        answer = await self.env.AI.run("@cf/meta/llama-3.1-8b-instruct", {"prompt": "hi"})
        return Response.json(answer)
"""


@pytest.fixture
def ai_worker(tmp_path):
    folder = tmp_path / "asker"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "ai_asker_entry.py").write_text(textwrap.dedent(ENTRY))
    config = {
        "name": "asker",
        "main": "src/ai_asker_entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "ai": {"binding": "AI"},
    }
    (folder / "wrangler.jsonc").write_text(json.dumps(config))
    yield folder
    sys.modules.pop("ai_asker_entry", None)
    with contextlib.suppress(ValueError):
        sys.path.remove(str(folder / "src"))


async def test_a_worker_uses_the_stand_in_and_the_start_says_so(ai_worker, tmp_path, capsys):
    harness = WorkerHarness(ai_worker, state_dir=tmp_path / "state")
    assert f"asker: env.AI is a {NOTICE}" in capsys.readouterr().err
    answer = await (await harness.fetch("/")).json()
    assert answer["dotdo_stand_in"] == NOTICE
    image = await harness.fetch("/image")
    assert image.headers.get("content-type") == "image/png"
    assert (await image.bytes())[:4] == b"\x89PNG"
    stream = await harness.fetch("/stream")
    assert (await stream.text()).endswith("data: [DONE]\n\n")
