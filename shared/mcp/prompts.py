"""MCP prompts declared once: a name, a description, named string arguments, and a text template.

    prompts = PromptRegistry()

    @prompts.prompt("rollback_service", "Roll a service back", [PromptArgument("service", "Which one", True)])
    def rollback(args: dict[str, str]) -> str:
        return f"Roll {args['service']} back: ..."

`prompts/list` shows every prompt with its arguments; `prompts/get` checks the arguments (strings,
the required ones present, no unknown ones: -32602 otherwise) and answers the text as one user
message. A prompt may need a permission, like a tool: hidden and refused without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.mcp.protocol import INVALID_PARAMS, McpError
from shared.mcp.tools import holds

PROMPT_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: A prompt argument's longest value: prompts are text for a model, not a way to post data.
MAX_ARGUMENT = 2000

Render = Callable[[dict[str, str]], str]


class UnknownPrompt(LookupError):
    """`prompts/get` named a prompt that is not registered (or not visible to the caller)."""


@dataclass(frozen=True)
class PromptArgument:
    """One argument of a prompt (its value is always a string)."""

    name: str
    description: str
    required: bool = False

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "required": self.required}


@dataclass(frozen=True)
class Prompt:
    """One prompt: `render(arguments) -> text`, the arguments it takes, and the permission it needs."""

    name: str
    description: str
    render: Render
    arguments: tuple[PromptArgument, ...] = ()
    permission: str | None = None

    def __post_init__(self) -> None:
        if not PROMPT_NAME.fullmatch(self.name):
            raise ValueError(f"invalid MCP prompt name {self.name!r}: 1-64 of [a-zA-Z0-9_-]")
        if not self.description:
            raise ValueError(f"MCP prompt {self.name!r} needs a description")
        names = [a.name for a in self.arguments]
        if len(set(names)) != len(names):
            raise ValueError(f"MCP prompt {self.name!r} names an argument twice")

    def describe(self) -> dict[str, Any]:
        """The prompt as `prompts/list` shows it."""
        return {
            "name": self.name,
            "description": self.description,
            "arguments": [a.describe() for a in self.arguments],
        }

    def checked(self, arguments: Any) -> dict[str, str]:
        """The arguments if they fit this prompt; else -32602 naming the problem."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise McpError(INVALID_PARAMS, "params.arguments must be an object of strings")
        known = {a.name for a in self.arguments}
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise McpError(INVALID_PARAMS, f"Unknown arguments: {', '.join(unknown)[:200]}", {"unknown": unknown})
        for name, value in arguments.items():
            if not isinstance(value, str) or len(value) > MAX_ARGUMENT:
                raise McpError(INVALID_PARAMS, f"Argument {name} must be a string of at most {MAX_ARGUMENT} characters")
        missing = [a.name for a in self.arguments if a.required and not arguments.get(a.name)]
        if missing:
            raise McpError(INVALID_PARAMS, f"Missing required arguments: {', '.join(missing)}", {"missing": missing})
        return dict(arguments)


class PromptRegistry:
    """The prompts of one MCP server, in declaration order."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}

    def add(self, prompt: Prompt) -> Prompt:
        if prompt.name in self._prompts:
            raise ValueError(f"MCP prompt {prompt.name!r} is declared twice")
        self._prompts[prompt.name] = prompt
        return prompt

    def prompt(
        self,
        name: str,
        description: str,
        arguments: list[PromptArgument] | tuple[PromptArgument, ...] = (),
        *,
        permission: str | None = None,
    ) -> Callable[[Render], Render]:
        """Decorator declaring `def render(arguments) -> str` as prompt `name`."""

        def decorator(render: Render) -> Render:
            self.add(Prompt(name, description, render, tuple(arguments), permission=permission))
            return render

        return decorator

    def names(self) -> list[str]:
        return list(self._prompts)

    async def list_prompts(self, context: Any) -> list[dict[str, Any]]:
        """`prompts/list`'s `prompts`, without those the context's principal may not use."""
        return [p.describe() for p in self._prompts.values() if holds(context, p.permission)]

    async def get_prompt(self, name: str, arguments: Any, context: Any) -> dict[str, Any]:
        """`prompts/get`'s result: the description and the rendered text as one user message."""
        prompt = self._prompts.get(name)
        if prompt is None or not holds(context, prompt.permission):
            raise UnknownPrompt(name)
        text = prompt.render(prompt.checked(arguments))
        return {
            "description": prompt.description,
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        }
