"""The harness side of the hook's contract (see ``_child/_runresume_protocol.py``, one file for both)."""

from ._child._runresume_protocol import (  # noqa: F401
    ENV_CONTROL,
    ENV_INJECT,
    ENV_TRIGGER,
    EV_HANDLER,
    EV_INIT,
    EV_PREEMPTING,
    EVENT,
    GO,
    OK,
    TRIGGER,
    TRIGGER_KINDS,
    decode,
    encode,
    socket_address,
    trigger_from_env,
    trigger_to_env,
)
