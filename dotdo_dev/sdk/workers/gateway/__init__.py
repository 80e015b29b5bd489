"""Shared building blocks of the ASGI and WSGI bridges, as in the SDK's `workers.gateway`."""

from .options import BaseOptions, EncodeBody

__all__ = ["BaseOptions", "EncodeBody"]
