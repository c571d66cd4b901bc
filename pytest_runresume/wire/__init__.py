"""Transports to the model: the GraphQL/file_stream WSGI app and the loopback HTTP server."""

from . import public as _public  # noqa: F401  (registers the public API's read handlers)
from . import sweeps as _sweeps  # noqa: F401  (registers the sweep and agent GraphQL handlers)
from .app import FakeWandbApp, RequestRecord
from .graphql import HANDLERS, GraphQLRequestError
from .inprocess import InProcessBackend
from .server import ServedBackend

__all__ = ["HANDLERS", "FakeWandbApp", "GraphQLRequestError", "InProcessBackend", "RequestRecord", "ServedBackend"]
