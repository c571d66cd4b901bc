"""Settings the harness gives the wandb SDK of every command it runs, where the SDK's version matters."""

from __future__ import annotations

import functools

__all__ = ["file_stream_transmit_interval", "retry_waits", "shortest_seconds"]

#: The wandb release whose wandb-core the 20 ms value of :func:`shortest_seconds` was verified with.
VERIFIED_WANDB = "0.31.0"


@functools.cache
def shortest_seconds() -> str:
    """The shortest wait a seconds setting of wandb-core takes, as the value to set (a string).

    wandb-core turns its ``*_seconds`` / interval settings into ``time.Second * time.Duration(value)``:
    a fraction truncates to 0 and falls back to the setting's default (15 s for the file_stream
    interval, 2 s for the retry waits), so 1 s is the least it takes by design. With wandb 0.31.0
    (the version verified, :data:`VERIFIED_WANDB`) the Go product of the integer below wraps around
    int64 to 0.019996672 s (a multiple of 4096 ns, so the integer is exact as a float): 20 ms. Every
    other wandb version gets ``"1"`` (a release that read the value as seconds would otherwise wait
    for ever). The version is the one installed for this interpreter.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        verified = version("wandb") == VERIFIED_WANDB
    except PackageNotFoundError:
        verified = False
    return "25710758295287120" if verified else "1"


def file_stream_transmit_interval() -> str:
    """``WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL`` for a command: the SDK's file_stream batch interval,
    :func:`shortest_seconds` (20 ms with wandb 0.31.0, else 1 s; the SDK's default is 15 s).

    wandb-core's rate limiter lets a batch go at most once an interval, so a step is on the server
    about 20 ms after ``run.log`` (the step trigger's sync waits for it) instead of up to 1 s. A batch
    is sent only when there is something to send and the previous one has been answered, so a process
    that logs in a tight loop makes up to 50 file_stream requests a second (bounded by the fake's
    answer time), one that logs now and then makes one per log, as before.
    """
    return shortest_seconds()


def retry_waits() -> dict[str, str]:
    """The SDK's shortest wait before a retry, for GraphQL, file_stream and file uploads:
    :func:`shortest_seconds` instead of wandb-core's 2 s (``WANDB_X_*_RETRY_WAIT_MIN_SECONDS``).

    Only the waits shrink: what is retried, how many times, the backoff's doubling and its maximum,
    a ``Retry-After`` answer and ``WANDB_INIT_TIMEOUT`` stay the SDK's (NOTES 1.6: non-2xx answers are
    retried). Two failed history batches cost ~0.1 s instead of ~6.6 s (2 s, then 4 s).
    """
    wait = shortest_seconds()
    return {
        "WANDB_X_GRAPHQL_RETRY_WAIT_MIN_SECONDS": wait,
        "WANDB_X_FILE_STREAM_RETRY_WAIT_MIN_SECONDS": wait,
        "WANDB_X_FILE_TRANSFER_RETRY_WAIT_MIN_SECONDS": wait,
    }
