"""Transports to the model: the GraphQL/file_stream WSGI app and the loopback HTTP server."""

from .app import FakeWandbApp, RequestRecord
from .graphql import HANDLERS, GraphQLRequestError
from .server import ServedBackend

__all__ = ["HANDLERS", "FakeWandbApp", "GraphQLRequestError", "RequestRecord", "ServedBackend"]
