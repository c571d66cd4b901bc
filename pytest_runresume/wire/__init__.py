"""Transports to the model: the GraphQL/file_stream WSGI app and the loopback HTTP server."""

from .._lazy import deprecated_names
from . import public as _public  # noqa: F401  (registers the public API's read handlers)
from . import sweeps as _sweeps  # noqa: F401  (registers the sweep and agent GraphQL handlers)
from .app import FakeWandbApp, RequestRecord
from .graphql import HANDLERS, GraphQLRequestError
from .inprocess import InProcessBackend
from .server import FakeServer

__all__ = ["HANDLERS", "FakeWandbApp", "GraphQLRequestError", "InProcessBackend", "RequestRecord", "FakeServer"]

#: Old names, answered with a DeprecationWarning for one release.
__getattr__ = deprecated_names(__name__, {"ServedBackend": "FakeServer"}, globals())
