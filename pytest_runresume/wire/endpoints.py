"""The endpoints of the fake W&B backend (a mixin of :class:`~.app.FakeWandbApp`): ``/graphql``,
``file_stream``, uploads and downloads, the read-only pages and the control API (state, clock, reset,
stop, faults). Routing, authentication and the last-resort error handling are :mod:`.app`'s.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from ..model import FileChunk, Model, messages
from ..model.errors import LimitExceeded
from . import graphql, public, ui
from .bodies import BadBody, BodyReader, json_response
from .dispatch import api_key_name
from .faults import Faults
from .limits import load_json


class Endpoints(BodyReader):
    """One ``on_<endpoint>`` method per route of :class:`~.app.FakeWandbApp`'s URL map."""

    model: Model
    faults: Faults
    api_key: str
    _upload_secret: bytes

    def _context(self, request: Request) -> graphql.Context:
        """What a GraphQL handler gets besides the variables, for this request."""
        return graphql.Context(
            self.model, request.host_url.rstrip("/"), self.limits, self.sign_upload, api_key_name(self.api_key)
        )

    def sign_upload(self, path: str) -> str:
        """The signature of the upload URL of ``entity/project/run_id/name`` (this server only)."""
        return hmac.new(self._upload_secret, path.encode(), hashlib.sha256).hexdigest()[:40]

    def _signed(self, request: Request, args: Mapping[str, Any], prefix: str = "") -> bool:
        """Whether the request carries the signature of its path (``prefix`` + ``entity/project/run/name``)."""
        sig = request.args.get("sig", "")
        path = prefix + graphql.upload_path(args["entity"], args["project"], args["run_id"], args["name"])
        return bool(sig) and hmac.compare_digest(sig.encode(), self.sign_upload(path).encode())

    def on_graphql(self, request: Request, op: list[str | None]) -> Response:
        try:
            body = self._bodyjson_response(request, "/graphql")
            if not isinstance(body, dict) or not isinstance(body.get("query"), str):
                raise BadBody(messages.MALFORMED_BODY.format(what="/graphql", detail="expected {query, variables}"))
            op[0] = body.get("operationName") or None
            ctx = self._context(request)
            name = graphql.operation_name(body["query"], op[0], self.limits)
            op[0] = name
            data = graphql.execute(ctx, body["query"], body.get("variables"), name)
        except (graphql.GraphQLRequestError, BadBody) as exc:
            text = str(exc)
            if getattr(exc, "problem", True):
                self.model.record_problem(text)
            # HTTP 200 + errors: the SDK does not retry it and fails at once (NOTES section 0).
            return json_response({"errors": [{"message": text}], "data": None})
        return json_response({"data": data})

    def on_file_stream(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str
    ) -> Response:
        op[0] = "file_stream"
        key = self.model.key(entity, project, run_id)
        try:
            body = self._bodyjson_response(request, f"file_stream of {key.path}")
            files = parse_files(body, key.path, self.limits.max_json_depth)
            # Shared-mode writers (R94-R96) write at their own offsets; the backend places their lines.
            async_client = (
                request.headers.get("X-WANDB-ASYNC-CLIENT-ID") or "shared"
                if request.headers.get("X-WANDB-USE-ASYNC-FILESTREAM", "").lower() == "true"
                else None
            )
        except BadBody as exc:
            self.model.record_problem(str(exc))
            return json_response({"error": str(exc)}, 400)
        try:
            stopped = self.model.file_stream(
                key,
                files,
                preempting=bool(body.get("preempting")),
                complete=bool(body.get("complete")),
                exit_code=body.get("exitcode"),
                uploaded=body.get("uploaded"),
                async_client=async_client,
            )
        except KeyError as exc:
            text = str(exc.args[0])
            self.model.record_problem(text)
            return json_response({"error": text}, 404)
        except LimitExceeded as exc:
            text = messages.MALFORMED_BODY.format(what=f"file_stream of {key.path}", detail=str(exc))
            self.model.record_problem(text if exc.kind == "gap" else str(exc))
            return json_response({"error": text if exc.kind == "gap" else str(exc)}, 400 if exc.kind == "gap" else 413)
        except ValueError as exc:
            text = messages.MALFORMED_BODY.format(what=f"file_stream of {key.path}", detail=str(exc))
            self.model.record_problem(text)
            return json_response({"error": text}, 400)
        answer: dict[str, Any] = {"exitcode": None, "limits": {}}
        if stopped:
            answer["stopped"] = True
        return json_response(answer)

    def on_upload(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        op[0] = "upload"
        try:
            self.model.upload(self.model.key(entity, project, run_id), name, self._read_body(request))
        except KeyError as exc:
            self.model.record_problem(str(exc.args[0]))
            return json_response({"error": str(exc.args[0])}, 404)
        except LimitExceeded as exc:
            self.model.record_problem(str(exc))
            return json_response({"error": str(exc)}, 413)
        return Response(b"", 200)

    def on_download(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        """``file.download()`` (``RunFiles`` hands out these signed URLs): the uploaded bytes;
        ``Range`` requests are answered as such."""
        op[0] = "download"
        return self._send(request, lambda ctx: public.file_bytes(ctx, entity, project, run_id, name), name)

    def on_history_export(
        self, request: Request, op: list[str | None], entity: str, project: str, run_id: str, name: str
    ) -> Response:
        """The parquet export of a run's history (``RunParquetHistory`` hands out these signed URLs;
        wandb-core reads them with ``Range`` requests)."""
        op[0] = "history_export"
        return self._send(request, lambda ctx: public.parquet_bytes(ctx, entity, project, run_id, name), name)

    def _send(self, request: Request, get: Any, name: str) -> Response:
        ctx = self._context(request)
        try:
            data = get(ctx)
        except KeyError as exc:
            self.model.record_problem(str(exc.args[0]))
            return json_response({"error": str(exc.args[0])}, 404)
        response = Response(data, 200, mimetype="application/octet-stream")
        return response.make_conditional(request, accept_ranges=True, complete_length=len(data))

    def on_telemetry(self, request: Request, op: list[str | None], rest: str) -> Response:
        op[0] = "telemetry"
        return Response(b"", 404)

    def on_health(self, request: Request, op: list[str | None]) -> Response:
        return json_response({"ok": True})

    def on_ui(self, request: Request, op: list[str | None]) -> Response:
        return ui.page(self.model, request)  # read-only run page, no key (runresume serve)

    def on_ui_link(self, request: Request, op: list[str | None], **_: str) -> Response:
        return ui.page(self.model, request)

    def on_ui_run(self, request: Request, op: list[str | None], entity: str, project: str, run_id: str) -> Response:
        return ui.run_page(self.model, request, entity, project, run_id)  # the link wandb prints

    def on_ui_sweep(self, request: Request, op: list[str | None], entity: str, project: str, sweep: str) -> Response:
        return ui.sweep_page(self.model, request, entity, project, sweep)

    def on_ctl_state(self, request: Request, op: list[str | None]) -> Response:
        return json_response(self.model.snapshot())

    def on_ctl_clock(self, request: Request, op: list[str | None]) -> Response:
        body = self._bodyjson_response(request, "/_runresume/clock")
        if not isinstance(body, dict):
            raise BadBody('expected {"advance": SECONDS}')
        advance = body.get("advance", 0)
        if isinstance(advance, bool) or not isinstance(advance, (int, float)):
            raise BadBody(f"advance must be a number of seconds, got {advance!r:.80}")
        return json_response({"now": self.model.advance_clock(advance)})

    def on_ctl_reset(self, request: Request, op: list[str | None]) -> Response:
        self.model.reset()
        return json_response({"ok": True})

    def on_ctl_stop(self, request: Request, op: list[str | None]) -> Response:
        body = self._bodyjson_response(request, "/_runresume/stop")
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise BadBody('expected {"path": "entity/project/run_id"}')
        self.model.request_stop(body["path"])
        return json_response({"ok": True})

    def on_ctl_faults(self, request: Request, op: list[str | None]) -> Response:
        if request.method == "POST":
            self.faults.add(self._bodyjson_response(request, "/_runresume/faults"))
        elif request.method == "DELETE":
            self.faults.clear()
        return json_response(self.faults.snapshot())


def parse_files(body: Any, path: str, max_depth: int) -> dict[str, FileChunk]:
    what = f"file_stream of {path}"
    if not isinstance(body, dict):
        raise BadBody(messages.MALFORMED_BODY.format(what=what, detail="not an object"))
    _check_fields(body, what)
    files = body.get("files")
    if files is None:
        files = {}
    if not isinstance(files, dict):
        raise BadBody(messages.MALFORMED_BODY.format(what=what, detail="files is not an object"))
    out: dict[str, FileChunk] = {}
    for name, chunk in files.items():
        offset = chunk.get("offset", 0) if isinstance(chunk, dict) else None
        if (
            not isinstance(chunk, dict)
            or not isinstance(offset, int)
            or isinstance(offset, bool)
            or offset < 0
            or not isinstance(chunk.get("content", []), list)
            or not all(isinstance(line, str) for line in chunk.get("content", []))
        ):
            detail = f"{name}: expected {{offset: int >= 0, content: [str]}}"
            raise BadBody(messages.MALFORMED_BODY.format(what=what, detail=detail))
        content = list(chunk.get("content", []))
        if name in JSON_LINE_FILES:
            for i, line in enumerate(content):
                if not _is_json_object(line, max_depth):
                    detail = f"{name} line {offset + i} is not a JSON object: {line[:80]!r}"
                    raise BadBody(messages.MALFORMED_BODY.format(what=what, detail=detail))
        out[name] = FileChunk(offset, content)
    return out


#: Files whose lines must each be a JSON object (``output.log`` is plain text).
JSON_LINE_FILES = ("wandb-history.jsonl", "wandb-events.jsonl", "wandb-summary.json")


def _is_json_object(line: str, max_depth: int) -> bool:
    try:
        return isinstance(load_json(line, max_depth), dict)
    except ValueError:
        return False


def _check_fields(body: dict[str, Any], what: str) -> None:
    """The other keys of a file_stream body, as wandb-core sends them (NOTES 1.6)."""
    wrong = [f"{key} must be true or false" for key in ("preempting", "complete") if not _is(body, key, bool)]
    exitcode = body.get("exitcode")
    if (
        not _is(body, "exitcode", int)
        or isinstance(exitcode, bool)
        or (exitcode is not None and abs(exitcode) >= 2**63)
    ):
        wrong.append("exitcode must be an integer")
    if not _is(body, "uploaded", list) or not all(isinstance(name, str) for name in body.get("uploaded") or ()):
        wrong.append("uploaded must be a list of file names")
    if wrong:
        raise BadBody(messages.MALFORMED_BODY.format(what=what, detail="; ".join(wrong)))


def _is(body: dict[str, Any], key: str, kind: type) -> bool:
    """``body[key]`` is absent, null or a ``kind``."""
    return body.get(key) is None or isinstance(body[key], kind)
