"""`import asgi`: the SDK's compatibility module for code that imports the ASGI bridge directly."""

import sys

from workers import asgi as _asgi

sys.modules[__name__] = _asgi
