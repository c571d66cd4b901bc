"""GraphQL dispatch: operation name -> one handler per operation (what wandb 0.31 sends).

Documents are parsed with graphql-core. wandb-core sends ``operationName``; the public API sends
``""``, so the name is taken from the document. A handler is registered with
``@handler("OperationName")`` beside the shapes it answers (:mod:`.graphql` for runs,
:mod:`.public` for the public API's reads, :mod:`.sweeps` for sweeps and agents); each returns the
``data`` object; fields the SDK does not ask for are harmless (it reads only what it selected).

The shapes follow ``shared/wandb-protocol/NOTES.md`` section 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, SelectionSetNode, parse

from ..model import Model, messages
from ..model.errors import LimitExceeded, RuleViolation
from .limits import WireLimits

DEFAULT_LIMITS = WireLimits()


class GraphQLRequestError(Exception):
    """A request the fake cannot answer: unknown operation, malformed document or variables.

    ``problem`` is False for refusals the rules call for (:class:`RuleViolation`): they are
    answered the same way but do not fail the test that caused them.
    """

    def __init__(self, message: str, problem: bool = True) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass
class Context:
    """What a handler gets besides the variables.

    Attributes:
        model: the model.
        base_url: ``http://127.0.0.1:PORT`` of the server, for upload URLs.
        limits: the wire's limits (JSON depth of JSON-string variables, upload URLs per request).
        sign_upload: signs an upload path ``entity/project/run/name`` (the ``sig`` of an upload
            URL); upload URLs carry no signature without it.
        api_key_name: the name of the one API key the server accepts (``viewer.apiKeys``): its
            first characters (:func:`api_key_name`), never the key itself.
    """

    model: Model
    base_url: str
    limits: WireLimits = DEFAULT_LIMITS
    sign_upload: Callable[[str], str] | None = None
    api_key_name: str = "runresume"


#: How many characters of the API key name it (``viewer.apiKeys``), at most half of the key.
API_KEY_NAME_LENGTH = 8


def api_key_name(api_key: str) -> str:
    """The name the viewer's API key is listed under: its first :data:`API_KEY_NAME_LENGTH`
    characters (at most half of it), as W&B's server names a key by a prefix of it (W&B's own
    system test ``test_public_api.py::test_viewer`` checks ``key.startswith(name)``)."""
    return api_key[: min(API_KEY_NAME_LENGTH, len(api_key) // 2)]


Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handler(*names: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of the GraphQL operations ``names``."""

    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


#: Documents up to this length have their operation names cached (see :func:`_names_cached`).
_CACHED_CHARS = 64 * 1024


def _names(query: str, limits: WireLimits = DEFAULT_LIMITS) -> tuple[str, ...]:
    """The names of the named operations in the document ``query``.

    Raises:
        GraphQLRequestError: if the document does not parse, or is larger than the limits allow
            (characters, tokens, aliases, nesting), naming the limit.
    """
    if len(query) > limits.max_graphql_chars:
        detail = (
            f"the document has {len(query)} characters; the limit is {limits.max_graphql_chars} (max_graphql_chars)"
        )
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=detail))
    try:
        doc = parse(query, no_location=True, max_tokens=limits.max_graphql_tokens)
    except GraphQLError as exc:
        detail = exc.message
        if "more than" in detail and "tokens" in detail:
            detail += " (max_graphql_tokens)"
        elif "nested too deeply" in detail:
            detail += " (max_graphql_depth)"
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=detail)) from exc
    except RecursionError:
        detail = f"selections nested deeper than {limits.max_graphql_depth} levels (max_graphql_depth)"
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=detail)) from None
    _check_shape(doc.definitions, limits)
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    names = [op.name.value for op in ops if op.name is not None]
    if len(ops) == 1 and ops[0].name is None:
        anonymous = _anonymous_name(ops[0])
        if anonymous is not None:
            names.append(anonymous)
    return tuple(names)


#: Anonymous documents older SDKs send, by their one root field -> the operation that answers them:
#: ``query { viewer { id } }`` is wandb <= 0.28.0's API key check (``validate_api_key``).
ANONYMOUS_OPERATIONS = {("query", "viewer"): "Viewer"}


def _anonymous_name(op: OperationDefinitionNode) -> str | None:
    """The operation that answers an anonymous document with one root field (see
    :data:`ANONYMOUS_OPERATIONS`), or ``None``."""
    fields = [sel for sel in op.selection_set.selections if isinstance(sel, FieldNode)]
    if len(fields) != 1 or len(op.selection_set.selections) != 1:
        return None
    return ANONYMOUS_OPERATIONS.get((op.operation.value, fields[0].name.value))


def _check_shape(definitions: Any, limits: WireLimits) -> None:
    """Refuse a document with more aliases or deeper selections than the limits allow."""
    aliases = 0
    stack: list[tuple[SelectionSetNode | None, int]] = [(getattr(d, "selection_set", None), 1) for d in definitions]
    while stack:
        selection_set, depth = stack.pop()
        if selection_set is None:
            continue
        if depth > limits.max_graphql_depth:
            detail = f"selections nested deeper than {limits.max_graphql_depth} levels (max_graphql_depth)"
            raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=detail))
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode) and sel.alias is not None:
                aliases += 1
            stack.append((getattr(sel, "selection_set", None), depth + 1))
    if aliases > limits.max_graphql_aliases:
        detail = f"the document has {aliases} aliases; the limit is {limits.max_graphql_aliases} (max_graphql_aliases)"
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=detail))


#: The SDK sends the same few documents again and again, and parsing one is most of what a
#: request costs; a request is looked at up to three times (fault rules, the app, ``execute``).
_names_cached = functools.lru_cache(maxsize=256)(_names)


def operation_name(query: str, operation_name: str | None, limits: WireLimits = DEFAULT_LIMITS) -> str:
    """The name of the operation to run, from ``operationName`` or else from the document.

    Raises:
        GraphQLRequestError: if the document does not parse, is past a limit, has no named
            operation, or does not contain the operation ``operationName`` asks for.
    """
    if not isinstance(query, str):
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail="query must be a string"))
    if operation_name is not None and not isinstance(operation_name, str):
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail="operationName must be a string"))
    names = _names_cached(query, limits) if len(query) <= _CACHED_CHARS else _names(query, limits)
    if operation_name:
        if operation_name not in names:
            raise GraphQLRequestError(
                messages.MALFORMED_GRAPHQL.format(detail=f"operationName {operation_name!r} is not in the document")
            )
        return operation_name
    if len(names) != 1:
        raise GraphQLRequestError(
            messages.MALFORMED_GRAPHQL.format(detail="the document must hold exactly one named operation")
        )
    return names[0]


def execute(ctx: Context, query: str, variables: dict[str, Any] | None, op_name: str | None) -> dict[str, Any]:
    """Run one GraphQL request and return the ``data`` object.

    Raises:
        GraphQLRequestError: for an unknown operation (named in the text) or a malformed request.
    """
    name = operation_name(query, op_name, ctx.limits)
    fn = HANDLERS.get(name)
    if fn is None and _introspection_only(query):
        return introspect(query, variables)
    if fn is None:
        raise GraphQLRequestError(messages.UNKNOWN_OPERATION.format(name=name))
    if variables is not None and not isinstance(variables, dict):
        raise GraphQLRequestError(messages.MALFORMED_BODY.format(what=name, detail="variables must be an object"))
    try:
        return fn(ctx, variables or {})
    except RuleViolation as exc:
        raise GraphQLRequestError(f"{name}: {exc}", problem=False) from exc
    except LimitExceeded as exc:
        raise GraphQLRequestError(f"{name}: {exc}") from exc
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise GraphQLRequestError(f"{name}: {exc.args[0] if exc.args else exc}") from exc
    except RecursionError:
        raise GraphQLRequestError(f"{name}: variables nested too deep (max_json_depth)") from None


def _introspection_only(query: str) -> bool:
    """Whether every root field of the document's operations is ``__type`` or ``__schema``."""
    try:
        doc = parse(query, no_location=True)
    except GraphQLError:
        return False
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    fields = [sel for op in ops for sel in op.selection_set.selections]
    return bool(fields) and all(isinstance(f, FieldNode) and f.name.value in ("__type", "__schema") for f in fields)


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    from importlib import resources

    from graphql import build_schema

    return build_schema(resources.files(__package__).joinpath("schema.graphql").read_text())


def introspect(query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """Answer a capability probe of older SDKs (``query ProbeRunInput { RunType: __type(name: "Run")
    { fields { name } } }``, wandb 0.19-0.25) from ``schema.graphql``: the operations and fields the
    fake answers. A type the fake does not model is ``null``, so the SDK keeps off that path.

    Raises:
        GraphQLRequestError: the document is not valid introspection.
    """
    from graphql import graphql_sync

    result = graphql_sync(_schema(), query, variable_values=variables)
    if result.errors:
        raise GraphQLRequestError(messages.MALFORMED_GRAPHQL.format(detail=result.errors[0].message))
    return dict(result.data or {})
