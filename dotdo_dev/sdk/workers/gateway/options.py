"""Options shared by the ASGI and WSGI bridges."""

from dataclasses import dataclass
from typing import Any, Literal, get_args

EncodeBody = Literal["automatic", "manual"]


@dataclass(frozen=True, kw_only=True)
class BaseOptions:
    """Options of a bridge; checked once, when they are created.

    `encode_body="manual"` means the app's body is already encoded as its `Content-Encoding` says
    (Cloudflare's `encodeBody` response option). The local runtime never compresses bodies, so
    both values send the app's bytes unchanged.
    """

    encode_body: EncodeBody = "automatic"

    def __post_init__(self) -> None:
        if self.encode_body not in get_args(EncodeBody):
            raise ValueError(f"encode_body must be one of {get_args(EncodeBody)}, got {self.encode_body!r}")

    def response_init(self) -> dict[str, Any]:
        """Extra options for the response this bridge builds (`encodeBody` when not automatic)."""
        return {} if self.encode_body == "automatic" else {"encodeBody": self.encode_body}
