"""The contract between the harness and its hook inside the process under test. Standard library only.

The harness imports this module as ``pytest_runresume.harness.protocol``; the hook
(``sitecustomize.py`` beside it, on the command's ``PYTHONPATH``) imports it by its file name. Both
sides use only what is defined here, so the contract is one file.

The harness listens on a Unix socket whose path is in :data:`ENV_CONTROL`. The hook opens one
connection per message, sends one JSON object on one line and waits for one answer line:

``{"type": "trigger", "point": ..., "pid": ..., ...}``
    the process reached a trigger point (:data:`ENV_TRIGGER` says which); it blocks until the harness
    answers :data:`GO` (after sending its signal, or without one when this start is not the one to
    preempt).
``{"type": "event", "event": ..., "pid": ..., ...}``
    something the diagnosis needs to know, in the order it happened inside the process:
    :data:`EV_INIT` (``wandb.init`` returned: run id, entity, project, resumed, starting step),
    :data:`EV_PREEMPTING` (``run.mark_preempting()`` was called), :data:`EV_HANDLER` (the code
    registered a signal handler: signal number and whether it is a Python function). The harness
    answers :data:`OK` once it has recorded the event, so an event is never lost to a signal that
    follows it.
"""

import json

#: Address of the harness's Unix socket: a path (the harness uses ``control`` in the command's own
#: ``TMPDIR``, which crosses into the command's network namespace), or ``@name`` for a name in the
#: abstract namespace (per network namespace: only without one).
ENV_CONTROL = "RUNRESUME_CONTROL"
#: The trigger point, as :func:`trigger_to_env` writes it.
ENV_TRIGGER = "RUNRESUME_TRIGGER"
#: ``run.log`` raises once it has committed this step (``runresume check``'s ``failed`` check).
ENV_INJECT = "RUNRESUME_INJECT_EXCEPTION_AT_STEP"

TRIGGER = "trigger"
EVENT = "event"

EV_INIT = "init"
EV_PREEMPTING = "mark_preempting"
EV_HANDLER = "handler"

#: Trigger kinds: after ``run.log`` committed step N; after ``wandb.init``; after
#: ``run.mark_preempting()``; at ``pytest_runresume.trigger_point(name)``; at the first
#: ``run.log`` at least N seconds after ``wandb.init`` returned.
TRIGGER_KINDS = ("step", "init", "preempting", "point", "runtime")

GO = b"go\n"
OK = b"ok\n"


def socket_address(text):
    """The address to bind or connect for an :data:`ENV_CONTROL` value (``@name`` -> ``\\0name``)."""
    return "\0" + text[1:] if text.startswith("@") else text


def trigger_to_env(kind, step=None, name=None, seconds=None):
    """The :data:`ENV_TRIGGER` value for a trigger (JSON text)."""
    return json.dumps({"kind": kind, "step": step, "name": name, "seconds": seconds})


def trigger_from_env(text):
    """The trigger dict from an :data:`ENV_TRIGGER` value, or ``None`` (no trigger)."""
    return json.loads(text) if text else None


def encode(msg):
    """One message as the bytes sent on the socket (JSON and a newline)."""
    return (json.dumps(msg) + "\n").encode()


def decode(data):
    """The message from the bytes of one line; ``ValueError`` if it is not a JSON object."""
    msg = json.loads(data.decode() or "{}")
    if not isinstance(msg, dict):
        raise ValueError("a message is a JSON object")
    return msg
