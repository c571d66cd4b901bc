"""pytest-runresume's hook inside the process under test. Standard library only.

Loaded through ``PYTHONPATH`` by the harness; does nothing unless ``RUNRESUME_CONTROL`` (or
``RUNRESUME_INJECT_EXCEPTION_AT_STEP``, see :func:`_inject_exception`) is set.
When the process reaches the trigger point in ``RUNRESUME_TRIGGER`` (JSON), it tells the harness
over the Unix socket ``RUNRESUME_CONTROL`` and blocks until the harness has delivered its signal and
answers. So the process cannot run past the point before the signal lands: no race.

Trigger kinds (``{"kind": ...}``):
    ``step``     after ``run.log`` has committed W&B step ``step`` (the ``_step`` value);
    ``init``     after ``wandb.init`` returned;
    ``preempting`` after ``run.mark_preempting()`` returned;
    ``point``    when the code calls ``pytest_runresume.trigger_point(name)`` with ``name``;
    ``runtime``  at the first ``run.log`` at least ``seconds`` after ``wandb.init`` returned
                 (the run's own clock in this process).

A ``sitecustomize`` that was on the path before this one is still imported.
"""

import importlib.abc
import importlib.util
import json
import os
import socket
import sys
import time

_CONTROL = os.environ.get("RUNRESUME_CONTROL")
_TRIGGER = json.loads(os.environ.get("RUNRESUME_TRIGGER") or "null")
_fired = False
_init_done_at = None  # time.monotonic() when wandb.init returned (runtime triggers)
_INJECT_AT = os.environ.get("RUNRESUME_INJECT_EXCEPTION_AT_STEP")  # runresume check's "failed" check


def _report(point, **detail):
    """Tell the harness we are at ``point`` and wait for its go-ahead (or its disappearance)."""
    global _fired
    if _fired or not _CONTROL:
        return
    _fired = True
    msg = dict(detail, point=point, pid=os.getpid())
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(_CONTROL)
            sock.sendall((json.dumps(msg) + "\n").encode())
            # Blocks here until the harness has sent its signal and says "go" (or closes).
            while True:
                data = sock.recv(64)
                if not data or b"\n" in data:
                    break
    except OSError as exc:  # the harness is gone: carry on as if untouched
        sys.stderr.write(f"pytest-runresume: trigger channel failed: {exc}\n")


def trigger_point(name):
    """A named trigger point in user code (no-op unless the harness asks for ``name``)."""
    if _TRIGGER and _TRIGGER.get("kind") == "point" and _TRIGGER.get("name") == name:
        _report("point", name=name)


def _inject_exception(run_cls):
    """``RUNRESUME_INJECT_EXCEPTION_AT_STEP=N``: ``run.log`` raises once it has committed step N,
    an exception the code under test did not plan for (no trigger, no harness socket needed)."""
    target = int(_INJECT_AT)
    original_log = run_cls.log

    def log(self, *args, **kwargs):
        result = original_log(self, *args, **kwargs)
        if getattr(self, "_local_step", 0) - 1 >= target:
            raise RuntimeError(f"pytest-runresume: exception injected after step {target}")
        return result

    log.__wrapped__ = original_log
    run_cls.log = log


def _patch_run(module):
    run_cls = getattr(module, "Run", None)
    if run_cls is None or getattr(run_cls, "_runresume_patched", False):
        return
    run_cls._runresume_patched = True
    if _INJECT_AT:
        _inject_exception(run_cls)
    kind = (_TRIGGER or {}).get("kind")
    if kind == "step":
        target = int(_TRIGGER["step"])
        original_log = run_cls.log

        def log(self, *args, **kwargs):
            result = original_log(self, *args, **kwargs)
            explicit = kwargs.get("step", args[1] if len(args) > 1 else None)
            commit = kwargs.get("commit", args[2] if len(args) > 2 else None)
            if explicit is not None and not commit:
                # log(..., step=N): row N stays pending in the client until a later step or the
                # exit commits it; the trigger still fires right after this call (R34).
                step, pending = explicit, True
            else:
                step, pending = getattr(self, "_local_step", 0) - 1, False  # the step log() committed
            if step >= target:
                _report("step", step=step, pending=pending, run_id=getattr(self, "id", None))
            return result

        log.__wrapped__ = original_log
        run_cls.log = log
    elif kind == "runtime":
        seconds = float(_TRIGGER["seconds"])
        original_log_rt = run_cls.log

        def log_rt(self, *args, **kwargs):
            result = original_log_rt(self, *args, **kwargs)
            if _init_done_at is not None and time.monotonic() - _init_done_at >= seconds:
                _report(
                    "runtime",
                    seconds=round(time.monotonic() - _init_done_at, 3),
                    step=getattr(self, "_local_step", 0) - 1,
                    run_id=getattr(self, "id", None),
                )
            return result

        log_rt.__wrapped__ = original_log_rt
        run_cls.log = log_rt
    elif kind == "preempting":
        original_mp = run_cls.mark_preempting

        def mark_preempting(self, *args, **kwargs):
            result = original_mp(self, *args, **kwargs)
            _report("preempting", run_id=getattr(self, "id", None))
            return result

        run_cls.mark_preempting = mark_preempting


def _patch_init(module):
    kind = (_TRIGGER or {}).get("kind")
    if kind not in ("init", "runtime") or getattr(module, "_runresume_patched", False):
        return
    module._runresume_patched = True
    original_init = module.init

    def init(*args, **kwargs):
        global _init_done_at
        run = original_init(*args, **kwargs)
        _init_done_at = time.monotonic()
        if kind == "init":
            _report("init", run_id=getattr(run, "id", None))
        return run

    module.init = init
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "init", None) is original_init:
        wandb.init = init


_PATCHES = {"wandb.sdk.wandb_run": _patch_run, "wandb.sdk.wandb_init": _patch_init}


class _Finder(importlib.abc.MetaPathFinder):
    """Patch wandb's modules right after they are imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module

        def patched_exec(module, _exec=exec_module, _name=fullname):
            _exec(module)
            _PATCHES[_name](module)

        loader.exec_module = patched_exec
        return spec


def _chain_previous_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.modules.pop("sitecustomize", None)
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        try:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except Exception as exc:  # the user's sitecustomize failing is not ours to hide
            sys.stderr.write(f"pytest-runresume: the previous sitecustomize failed: {exc!r}\n")
    if saved is not None:
        sys.modules["sitecustomize"] = saved


if _CONTROL or _INJECT_AT:
    import importlib.machinery

    sys.meta_path.insert(0, _Finder())
    # Let user code call pytest_runresume's trigger_point without importing the package here.
    sys.modules.setdefault("_runresume_child", sys.modules[__name__])
_chain_previous_sitecustomize()
