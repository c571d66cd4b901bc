"""Settings the harness gives the wandb SDK of every command it runs, where the SDK's version matters."""

from __future__ import annotations

import functools

__all__ = ["file_stream_transmit_interval"]


@functools.cache
def file_stream_transmit_interval() -> str:
    """``WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL`` for a command: the SDK's file_stream batch interval.

    wandb-core turns the setting into ``time.Second * time.Duration(value)``: a fraction truncates to
    0 and falls back to its 15 s default, so 1 s is the least it takes by design. With wandb 0.31.0
    (the version verified) the Go product of the integer below wraps around int64 to 0.019996672 s
    (a multiple of 4096 ns, so the integer is exact as a float): wandb-core's rate limiter lets a
    batch go at most every 20 ms, so a step is on the server about 20 ms after ``run.log`` (the
    step trigger's sync waits for it) instead of up to 1 s. A batch is sent only when there is
    something to send and the previous one has been answered, so a process that logs in a tight
    loop makes up to 50 file_stream requests a second (bounded by the fake's answer time), one that
    logs now and then makes one per log, as before. Every other wandb version gets ``"1"`` (a
    release that read the value as seconds would never send before exit). The version is the one
    installed for this interpreter.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        verified = version("wandb") == "0.31.0"
    except PackageNotFoundError:
        verified = False
    return "25710758295287120" if verified else "1"
