"""Middleware, one per file: request ids, CORS, access log, errors, authentication."""

from shared.middleware.access_log import AccessLogMiddleware
from shared.middleware.authentication import AuthenticationMiddleware
from shared.middleware.cors import CORSMiddleware
from shared.middleware.errors import ErrorMiddleware
from shared.middleware.request_id import RequestIdMiddleware

__all__ = [
    "AccessLogMiddleware",
    "AuthenticationMiddleware",
    "CORSMiddleware",
    "ErrorMiddleware",
    "RequestIdMiddleware",
]
