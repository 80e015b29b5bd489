"""Middleware, one per file: request ids, CORS, access log, errors."""

from shared.middleware.access_log import AccessLogMiddleware
from shared.middleware.cors import CORSMiddleware
from shared.middleware.errors import ErrorMiddleware
from shared.middleware.request_id import RequestIdMiddleware

__all__ = ["AccessLogMiddleware", "CORSMiddleware", "ErrorMiddleware", "RequestIdMiddleware"]
