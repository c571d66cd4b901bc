"""Settings the harness gives the wandb SDK of every command it runs, where the SDK's version matters."""

from __future__ import annotations

import functools

__all__ = ["file_stream_transmit_interval"]


@functools.cache
def file_stream_transmit_interval() -> str:
    """``WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL`` for a command: the SDK's file_stream batch interval.

    wandb-core turns the setting into ``time.Second * time.Duration(value)``: a fraction truncates to
    0 and falls back to its 15 s default, so 1 s is the least it takes by design. With wandb 0.31.0
    (the version verified) the Go product of the integer below wraps around int64 to 0.099999744 s
    (a multiple of 4096 ns, so the integer is exact as a float): batches every 0.1 s, so a step is
    on the server about 0.1 s after ``run.log`` (the step trigger's sync) instead of up to 1 s.
    Every other wandb version gets ``"1"`` (a release that read the value as seconds would never
    send before exit). The version is the one installed for this interpreter.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        verified = version("wandb") == "0.31.0"
    except PackageNotFoundError:
        verified = False
    return "18717284022294576" if verified else "1"
