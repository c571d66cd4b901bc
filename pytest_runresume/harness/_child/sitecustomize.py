"""pytest-runresume's hook inside the process under test. Standard library only.

Loaded through ``PYTHONPATH`` by the harness; does nothing unless ``RUNRESUME_CONTROL`` (or
``RUNRESUME_INJECT_EXCEPTION_AT_STEP``, see :func:`_inject_exception`) is set. The messages it
sends and their answers are defined in ``_runresume_protocol.py`` beside this file.

It tells the harness what the diagnosis needs (``wandb.init`` returned, ``run.mark_preempting()``
called, a signal handler registered), each as it happens. When the process reaches the trigger
point in ``RUNRESUME_TRIGGER`` it tells the harness and blocks until the harness has delivered its
signal (or decided that this start is not the one to preempt) and answers. So the process cannot run
past the point before the signal lands: no race.

Trigger kinds (``{"kind": ...}``):
    ``step``     after ``run.log`` has committed W&B step ``step`` (the ``_step`` value);
    ``init``     after ``wandb.init`` returned;
    ``preempting`` after ``run.mark_preempting()`` returned;
    ``point``    when the code calls ``pytest_runresume.trigger_point(name)`` with ``name``;
    ``runtime``  at the first ``run.log`` at least ``seconds`` after ``wandb.init`` returned
                 (the run's own clock in this process).

Every socket call to a host other than loopback is refused and reported to the harness
(``_runresume_netguard.py`` beside this file).

A ``sitecustomize`` that was on the path before this one is still imported.
"""

import importlib.abc
import importlib.util
import os
import signal
import socket
import sys
import time

import _runresume_protocol as protocol

_CONTROL = os.environ.get(protocol.ENV_CONTROL)
_TRIGGER = protocol.trigger_from_env(os.environ.get(protocol.ENV_TRIGGER))
_fired = False
_init_done_at = None  # time.monotonic() when wandb.init returned (runtime triggers)
_last_explicit = None  # the last run.log(..., step=N) of this process: the row still pending
_INJECT_AT = os.environ.get(protocol.ENV_INJECT)  # runresume check's "failed" check


def _send(msg):
    """Send one message to the harness and wait for its answer line (or its disappearance)."""
    if not _CONTROL:
        return
    msg = dict(msg, pid=os.getpid(), ppid=os.getppid())
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(protocol.socket_address(_CONTROL))
            sock.sendall(protocol.encode(msg))
            # Blocks here until the harness answers (for a trigger: after it has sent its signal).
            while True:
                data = sock.recv(64)
                if not data or b"\n" in data:
                    break
    except OSError as exc:  # the harness is gone: carry on as if untouched
        sys.stderr.write(f"pytest-runresume: trigger channel failed: {exc}\n")


def _event(name, **detail):
    _send(dict(detail, type=protocol.EVENT, event=name))


def _report(point, **detail):
    """Tell the harness we are at ``point`` (once per process) and wait for its go-ahead."""
    global _fired
    if _fired:
        return
    _fired = True
    _send(dict(detail, type=protocol.TRIGGER, point=point))


def _run_ids(run):
    out = {}
    for name in ("id", "entity", "project"):
        try:
            out["run_id" if name == "id" else name] = getattr(run, name, None)
        except Exception:  # an attribute the SDK version lacks must not break the user's code
            out["run_id" if name == "id" else name] = None
    return out


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
        if getattr(self, "_local_step", getattr(self, "_step", 0)) - 1 >= target:
            raise RuntimeError(f"pytest-runresume: exception injected after step {target}")
        return result

    log.__wrapped__ = original_log
    run_cls.log = log


def _current_step(run):
    """The next step ``run.log`` would commit (``_local_step`` from wandb 0.28, ``_step`` before)."""
    return getattr(run, "_local_step", getattr(run, "_step", 0))


def _patch_run(module):
    run_cls = getattr(module, "Run", None)
    if run_cls is None or getattr(run_cls, "_runresume_patched", False):
        return
    run_cls._runresume_patched = True
    if _INJECT_AT:
        _inject_exception(run_cls)
    if not _CONTROL:
        return
    original_mp = run_cls.mark_preempting

    def mark_preempting(self, *args, **kwargs):
        result = original_mp(self, *args, **kwargs)
        _event(protocol.EV_PREEMPTING, step=_current_step(self) - 1, **_run_ids(self))
        if (_TRIGGER or {}).get("kind") == "preempting":
            _report("preempting", **_run_ids(self))
        return result

    mark_preempting.__wrapped__ = original_mp
    run_cls.mark_preempting = mark_preempting
    kind = (_TRIGGER or {}).get("kind")
    if kind == "step":
        target = int(_TRIGGER["step"])
        original_log = run_cls.log

        def log(self, *args, **kwargs):
            global _last_explicit
            result = original_log(self, *args, **kwargs)
            explicit = kwargs.get("step", args[1] if len(args) > 1 else None)
            commit = kwargs.get("commit", args[2] if len(args) > 2 else None)
            committed = None
            if explicit is not None and not commit:
                # log(..., step=N): row N stays pending in the client until a later step or the
                # exit commits it; the trigger still fires right after this call (R34). A larger
                # step commits the pending one: the harness waits for that row instead.
                if isinstance(_last_explicit, int) and isinstance(explicit, int) and explicit > _last_explicit:
                    committed = _last_explicit
                _last_explicit = explicit
                step, pending = explicit, True
            else:
                step, pending = _current_step(self) - 1, False  # the step log() committed
            if step >= target:
                _report("step", step=step, pending=pending, committed_step=committed, **_run_ids(self))
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
                    step=_current_step(self) - 1,
                    **_run_ids(self),
                )
            return result

        log_rt.__wrapped__ = original_log_rt
        run_cls.log = log_rt


def _patch_init(module):
    if not _CONTROL or getattr(module, "_runresume_patched", False):
        return
    module._runresume_patched = True
    kind = (_TRIGGER or {}).get("kind")
    original_init = module.init

    def init(*args, **kwargs):
        global _init_done_at
        run = original_init(*args, **kwargs)
        _init_done_at = time.monotonic()
        try:
            resumed, starting = bool(getattr(run, "resumed", False)), getattr(run, "starting_step", None)
        except Exception:
            resumed, starting = None, None
        _event(protocol.EV_INIT, resumed=resumed, starting_step=starting, argv=sys.argv[:8], **_run_ids(run))
        if kind == "init":
            _report("init", **_run_ids(run))
        return run

    module.init = init
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "init", None) is original_init:
        wandb.init = init


def _patch_signal():
    """Tell the harness which signal handlers the code registers (the diagnosis names a missing
    one); the user's handler itself is installed untouched."""
    original = signal.signal

    def register(signalnum, handler):
        previous = original(signalnum, handler)
        if handler is signal.SIG_DFL:
            what = "default"
        elif handler is signal.SIG_IGN:
            what = "ignore"
        else:
            what = "function"
        try:
            caller = sys._getframe(1).f_globals.get("__name__", "?")
        except Exception:
            caller = "?"
        _event(protocol.EV_HANDLER, signum=int(signalnum), handler=what, module=caller)
        return previous

    register.__wrapped__ = original
    signal.signal = register


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
    if _CONTROL:
        _patch_signal()
        import _runresume_netguard

        _runresume_netguard.install(lambda **where: _event(_runresume_netguard.EV_NETWORK, **where))
    # Let user code call pytest_runresume's trigger_point without importing the package here.
    sys.modules.setdefault("_runresume_child", sys.modules[__name__])
_chain_previous_sitecustomize()
