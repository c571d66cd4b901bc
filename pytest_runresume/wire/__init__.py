"""Transports to the model: the GraphQL/file_stream WSGI app and the loopback HTTP server."""

from .app import FakeWandbApp, RequestRecord
from .graphql import HANDLERS, GraphQLRequestError
from .inprocess import InProcessBackend
from .server import ServedBackend

__all__ = ["HANDLERS", "FakeWandbApp", "GraphQLRequestError", "InProcessBackend", "RequestRecord", "ServedBackend"]
