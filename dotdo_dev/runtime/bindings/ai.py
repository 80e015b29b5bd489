"""A local stand-in for the Workers AI binding: `env.AI.run(model, inputs, options?)` with placeholder outputs.

No model runs locally. The stand-in answers in the shape each kind of model answers on Cloudflare, with
outputs made deterministically from a hash of the model and the inputs (the same call always gives the
same answer), so code that calls Workers AI can be developed and tested offline:

* text generation (`prompt` or `messages`): `{"response": "<placeholder text>", "usage": {...}}`; with
  `stream: True` a server-sent-events body as Workers AI streams it (`data: {"response": "..."}` events,
  then `data: [DONE]`), to return with `content-type: text/event-stream`. OpenAI-style models
  (`@cf/openai/gpt-oss-*`) take `input` (and `instructions`) and answer a Responses API object with
  `output` (a reasoning item and an assistant message).
* text embeddings (`text`: a string or a list): `{"shape": [n, dim], "data": [[...]], "pooling": "mean"}`,
  unit vectors of the model's dimension derived from a hash of each text.
* text-to-image (`prompt`): PNG bytes (a gradient whose colours come from the prompt's hash), `width` and
  `height` honoured up to 2048; `@cf/black-forest-labs/flux-1-schnell` answers `{"image": <base64 PNG>}`
  as flux does (Cloudflare's is a JPEG).
* translation, summarization and text classification: `{"translated_text"}`, `{"summary"}`,
  `[{"label", "score"}]`.

It is marked as a stand-in everywhere it can be: every JSON answer carries `"dotdo_stand_in": "<notice>"`,
PNGs a `tEXt` chunk, raw responses (`returnRawResponse`) the header `x-dotdo-stand-in`, and the worker's
log says so once when the binding is made. A model the stand-in does not know fails as Workers AI fails
for a model that does not exist (`InferenceUpstreamError`, `5007: No such model <model> or task`); the
known ones are `MODELS`. Inputs missing what the task needs fail with `5006: Invalid input ...` (the
code is Workers AI's invalid-input error; the wording is ours). Other methods of the binding (`models`,
`gateway`, `autorag`, `toMarkdown`) raise NotImplementedError.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import sys
import zlib
from dataclasses import dataclass
from typing import Any

from pyodide._values import JsArray, JsException, JsObject

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, BindingKind, Sections

__all__ = ["MODELS", "NOTICE", "AIConfig", "AIKind", "AIStandIn", "InferenceUpstreamError"]

NOTICE = "local stand-in for Workers AI: outputs are deterministic placeholders, not a model"
STAND_IN_HEADER = "x-dotdo-stand-in"

_TEXT = "text-generation"
_EMBED = "text-embeddings"
_IMAGE = "text-to-image"
_RESPONSES = "responses"  # OpenAI-style models: `input` in, a Responses API object out
_TRANSLATE = "translation"
_SUMMARY = "summarization"
_CLASSIFY = "text-classification"

#: The models the stand-in knows, by name, with their task (and the dimension of embedding models).
MODELS: dict[str, tuple[str, int]] = {
    **{
        name: (_TEXT, 0)
        for name in (
            "@cf/meta/llama-2-7b-chat-fp16",
            "@cf/meta/llama-2-7b-chat-int8",
            "@cf/meta/llama-3-8b-instruct",
            "@cf/meta/llama-3-8b-instruct-awq",
            "@cf/meta/llama-3.1-8b-instruct",
            "@cf/meta/llama-3.1-8b-instruct-awq",
            "@cf/meta/llama-3.1-8b-instruct-fp8",
            "@cf/meta/llama-3.1-8b-instruct-fast",
            "@cf/meta/llama-3.1-70b-instruct",
            "@cf/meta/llama-3.2-1b-instruct",
            "@cf/meta/llama-3.2-3b-instruct",
            "@cf/meta/llama-3.2-11b-vision-instruct",
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            "@cf/meta/llama-4-scout-17b-16e-instruct",
            "@cf/meta/llama-guard-3-8b",
            "@cf/mistral/mistral-7b-instruct-v0.1",
            "@cf/mistralai/mistral-small-3.1-24b-instruct",
            "@hf/mistral/mistral-7b-instruct-v0.2",
            "@cf/google/gemma-3-12b-it",
            "@hf/google/gemma-7b-it",
            "@cf/qwen/qwen1.5-14b-chat-awq",
            "@cf/qwen/qwen2.5-coder-32b-instruct",
            "@cf/qwen/qwq-32b",
            "@cf/qwen/qwen3-30b-a3b-fp8",
            "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
            "@cf/microsoft/phi-2",
            "@hf/nousresearch/hermes-2-pro-mistral-7b",
            "@cf/tinyllama/tinyllama-1.1b-chat-v1.0",
        )
    },
    "@cf/openai/gpt-oss-120b": (_RESPONSES, 0),
    "@cf/openai/gpt-oss-20b": (_RESPONSES, 0),
    "@cf/baai/bge-small-en-v1.5": (_EMBED, 384),
    "@cf/baai/bge-base-en-v1.5": (_EMBED, 768),
    "@cf/baai/bge-large-en-v1.5": (_EMBED, 1024),
    "@cf/baai/bge-m3": (_EMBED, 1024),
    "@cf/google/embeddinggemma-300m": (_EMBED, 768),
    "@cf/qwen/qwen3-embedding-0.6b": (_EMBED, 1024),
    "@cf/stabilityai/stable-diffusion-xl-base-1.0": (_IMAGE, 0),
    "@cf/bytedance/stable-diffusion-xl-lightning": (_IMAGE, 0),
    "@cf/lykon/dreamshaper-8-lcm": (_IMAGE, 0),
    "@cf/black-forest-labs/flux-1-schnell": (_IMAGE, 0),
    "@cf/meta/m2m100-1.2b": (_TRANSLATE, 0),
    "@cf/facebook/bart-large-cnn": (_SUMMARY, 0),
    "@cf/huggingface/distilbert-sst-2-int8": (_CLASSIFY, 0),
}

_WORDS = [
    "placeholder",
    "local",
    "answer",
    "stand-in",
    "deterministic",
    "sample",
    "text",
    "lorem",
    "ipsum",
    "offline",
    "development",
    "worker",
    "binding",
    "reply",
    "example",
    "output",
    "token",
    "sentence",
    "value",
    "result",
    "draft",
    "mock",
    "canned",
]


class InferenceUpstreamError(JsException):
    """What Workers AI raises for a failed run (a JavaScript error named `InferenceUpstreamError`)."""

    def __init__(self, message: str) -> None:
        super().__init__("InferenceUpstreamError", message)


def _seed(*parts: Any) -> bytes:
    text = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _stream(seed: bytes, size: int) -> bytes:
    return hashlib.shake_256(seed).digest(size)


def _placeholder_text(model: str, prompt: str, seed: bytes) -> str:
    shown = " ".join(prompt.split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    words = [_WORDS[b % len(_WORDS)] for b in _stream(seed, 12)]
    return f'[{model} stand-in] Placeholder reply to "{shown}": {" ".join(words)}.'


def _prompt_of(inputs: dict[str, Any], model: str) -> str:
    if isinstance(inputs.get("prompt"), str):
        return inputs["prompt"]
    messages = inputs.get("messages")
    if isinstance(messages, list) and messages:
        last = messages[-1]
        content = dict.get(last, "content") if isinstance(last, dict) else None
        return content if isinstance(content, str) else json.dumps(content, default=repr)
    raise InferenceUpstreamError(
        f"5006: Invalid input: {model} needs `prompt` (a string) or `messages` (a list of {{role, content}})"
    )


def _png(width: int, height: int, seed: bytes) -> bytes:
    """A PNG of `width` x `height`: a diagonal gradient between two colours taken from `seed`."""
    a, b = _stream(seed, 6)[:3], _stream(seed, 6)[3:]
    rows = bytearray()
    span = max(width + height - 2, 1)
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            t = (x + y) / span
            rows.extend(round(a[i] + (b[i] - a[i]) * t) for i in range(3))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    marker = b"Comment\0dotdo " + NOTICE.encode("ascii")
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"tEXt", marker),
            chunk(b"IDAT", zlib.compress(bytes(rows), 6)),
            chunk(b"IEND", b""),
        )
    )


class EventStream(bytes):
    """A streamed text generation: the whole server-sent-events body as bytes (bodies are bytes locally;
    `Response(stream, headers={"content-type": "text/event-stream"})` sends it), also iterable with
    `async for` chunk by chunk, one event each."""

    _events: list[bytes]

    def __new__(cls, events: list[bytes]) -> EventStream:
        stream = super().__new__(cls, b"".join(events))
        stream._events = events
        return stream

    async def __aiter__(self):
        for event in self._events:
            yield event


class AIStandIn:
    """`env.AI` locally: `run(model, inputs, options=None)` answers placeholders (see the module docstring)."""

    def __init__(self, binding: str = "AI") -> None:
        self._binding = binding

    def __repr__(self) -> str:
        return f"<env.{self._binding}: {NOTICE}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotImplementedError(
            f"env.{self._binding}.{name}: the {NOTICE}; it provides run(model, inputs, options) only"
        )

    async def run(self, model: str, inputs: Any = None, options: Any = None, **kwargs: Any) -> Any:
        """Answer `inputs` as `model` would be answered, with deterministic placeholders."""
        if not isinstance(model, str):
            raise TypeError(f"AI.run() takes the model name as a str, not {type(model).__name__}")
        if inputs is not None and kwargs:
            raise TypeError("pass the inputs either as a dict or as keyword arguments, not both")
        given = dict(kwargs) if inputs is None else _props(inputs, "inputs")
        settings = {} if options is None else _props(options, "options")
        known = MODELS.get(model)
        if known is None:
            raise InferenceUpstreamError(f"5007: No such model {model} or task")
        task, dimension = known
        seed = _seed(model, {k: v for k, v in given.items() if k != "stream"})  # streamed text = whole text
        result = self._answer(model, task, dimension, given, seed)
        if settings.get("returnRawResponse"):
            return _raw_response(result)
        return result

    def _answer(self, model: str, task: str, dimension: int, inputs: dict[str, Any], seed: bytes) -> Any:
        if task == _TEXT:
            text = _placeholder_text(model, _prompt_of(inputs, model), seed)
            if inputs.get("stream"):
                return _event_stream(text)
            tokens = len(text.split())
            usage = {"prompt_tokens": len(_prompt_of(inputs, model).split()), "completion_tokens": tokens}
            usage["total_tokens"] = usage["prompt_tokens"] + tokens
            return _marked({"response": text, "tool_calls": [], "usage": usage})
        if task == _RESPONSES:
            return self._responses(model, inputs, seed)
        if task == _EMBED:
            return _embeddings(model, inputs, dimension)
        if task == _IMAGE:
            prompt = inputs.get("prompt")
            if not isinstance(prompt, str) or not prompt:
                raise InferenceUpstreamError(f"5006: Invalid input: {model} needs `prompt` (a non-empty string)")
            width, height = (_size(inputs.get(name), name, model) for name in ("width", "height"))
            png = _png(width, height, seed)
            if "flux" in model:
                return _marked({"image": base64.b64encode(png).decode("ascii")})
            return png
        if task == _TRANSLATE:
            text = _text_input(inputs, model)
            target = inputs.get("target_lang", "?")
            return _marked({"translated_text": f"[{target}] {_placeholder_text(model, text, seed)}"})
        if task == _SUMMARY:
            text = _text_input(inputs, model, key="input_text")
            return _marked({"summary": _placeholder_text(model, text, seed)})
        text = _text_input(inputs, model)
        positive = round(_stream(seed, 1)[0] / 255, 4)
        labels = [{"label": "POSITIVE", "score": positive}, {"label": "NEGATIVE", "score": round(1 - positive, 4)}]
        return JsArray(JsObject(label) for label in sorted(labels, key=lambda item: -item["score"]))

    def _responses(self, model: str, inputs: dict[str, Any], seed: bytes) -> JsObject:
        given = inputs.get("input")
        if isinstance(given, list) and given:
            last = given[-1]
            given = dict.get(last, "content") if isinstance(last, dict) else last
        if not isinstance(given, str):
            raise InferenceUpstreamError(f"5006: Invalid input: {model} needs `input` (a string or a list of messages)")
        text = _placeholder_text(model, given, seed)
        ident = seed.hex()[:24]
        output = [
            {
                "id": f"rs_{ident}",
                "type": "reasoning",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "No reasoning: this is a local stand-in."}],
            },
            {
                "id": f"msg_{ident}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            },
        ]
        return _marked(
            {
                "id": f"resp_{ident}",
                "object": "response",
                "model": model,
                "status": "completed",
                "instructions": inputs.get("instructions"),
                "output": output,
                "usage": {"input_tokens": len(given.split()), "output_tokens": len(text.split())},
            }
        )


def _props(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in dict.items(value)}
    raise TypeError(f"AI.run() {what} must be an object (a dict), not {type(value).__name__}")


def _js(value: Any) -> Any:
    """Plain data as Pyodide shows JavaScript results: objects with attribute access, arrays."""
    if isinstance(value, dict):
        return JsObject({k: _js(v) for k, v in value.items()})
    if isinstance(value, list):
        return JsArray(_js(v) for v in value)
    return value


def _marked(result: dict[str, Any]) -> JsObject:
    return _js({**result, "dotdo_stand_in": NOTICE})


def _text_input(inputs: dict[str, Any], model: str, key: str = "text") -> str:
    text = inputs.get(key)
    if not isinstance(text, str):
        raise InferenceUpstreamError(f"5006: Invalid input: {model} needs `{key}` (a string)")
    return text


def _size(value: Any, name: str, model: str) -> int:
    if value is None:
        return 512
    if isinstance(value, bool) or not isinstance(value, int) or not 64 <= value <= 2048:
        raise InferenceUpstreamError(f"5006: Invalid input: {model}: `{name}` must be an integer from 64 to 2048")
    return value


def _embeddings(model: str, inputs: dict[str, Any], dimension: int) -> JsObject:
    texts = inputs.get("text")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InferenceUpstreamError(f"5006: Invalid input: {model} needs `text` (a string or a list of strings)")
    vectors = []
    for text in texts:
        raw = _stream(_seed(model, text), dimension * 2)
        values = [(int.from_bytes(raw[i : i + 2], "big") / 32767.5) - 1 for i in range(0, len(raw), 2)]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        vectors.append([round(v / norm, 6) for v in values])
    return _marked({"shape": [len(vectors), dimension], "data": vectors, "pooling": "mean"})


def _event_stream(text: str) -> EventStream:
    words = text.split(" ")
    events = [
        b"data: " + json.dumps({"response": word + (" " if i < len(words) - 1 else ""), "p": "x"}).encode() + b"\n\n"
        for i, word in enumerate(words)
    ]
    events.insert(0, b": " + NOTICE.encode() + b"\n\n")  # an SSE comment: clients skip it
    events.append(b"data: [DONE]\n\n")
    return EventStream(events)


def _raw_response(result: Any) -> Any:
    from workers import Response

    headers = {STAND_IN_HEADER: NOTICE}
    if isinstance(result, EventStream):
        return Response(bytes(result), headers={**headers, "content-type": "text/event-stream"})
    if isinstance(result, bytes):
        return Response(result, headers={**headers, "content-type": "image/png"})
    body = json.dumps({"result": result, "success": True, "errors": [], "messages": []})
    return Response(body, headers={**headers, "content-type": "application/json"})


# -- the binding kind: `ai` in wrangler.jsonc -----------------------------------------------------------------


@dataclass(frozen=True)
class AIConfig:
    """The `ai` object: `{"binding": "AI"}`."""

    binding: str


class AIKind(BindingKind):
    """`ai`: `env.<binding>` is an `AIStandIn`. Wrangler allows one `ai` binding, an object, not a list."""

    keys = ("ai",)

    def parse(self, reader: ConfigReader, config: Any) -> dict[str, Any]:
        item = reader.obj(config, "ai")
        if not item:
            return {"ai": []}
        return {"ai": [AIConfig(binding=reader.string(item, "binding", required=True, prefix="ai"))]}

    def names(self, sections: Sections) -> list[str]:
        return [entry.binding for entry in sections["ai"]]

    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        bound = {}
        for entry in sections["ai"]:
            print(f"{context.worker}: env.{entry.binding} is a {NOTICE}", file=sys.stderr, flush=True)
            bound[entry.binding] = AIStandIn(entry.binding)
        return bound
