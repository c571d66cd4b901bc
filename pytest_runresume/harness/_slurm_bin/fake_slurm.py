#!/usr/bin/env python3
"""Fake SLURM client commands for pytest-runresume: scontrol, squeue, sbatch, srun, scancel.

One file, installed under each command's name; ``basename(argv[0])`` picks the command. Standard
library only, so it runs under any Python 3.10+. Every invocation appends one JSON object (one
line) to the file named by ``RUNRESUME_SLURM_EVENTS`` and exits as the real command would for
that request; nothing is scheduled here: the harness reads the file and acts (requeue, cancel).
Without ``RUNRESUME_SLURM_EVENTS`` every command fails with exit status 1 and says so.

What each command does, and the SLURM source or man page it follows:

- ``scontrol requeue [Incomplete] <job_list>`` and ``scontrol requeuehold ...``: record the
  request, exit 0; a job id that is not this job's prints "Invalid job id specified for job N",
  and a job that may not be requeued (``RUNRESUME_SLURM_REQUEUE=0``, i.e. ``--no-requeue``)
  "Requested operation is presently disabled for job N", both exit 1 (``scontrol_requeue`` in
  ``src/scontrol/update_job.c``; ``_job_requeue_op`` in ``src/slurmctld/job_mgr.c``).
- ``scontrol show job [id]`` prints the job's main fields; ``scontrol show hostnames [list]``
  prints one host per line.
- ``squeue`` prints this job as running (``-h``/``--noheader``, ``-j``/``--jobs`` honoured).
- ``sbatch [--parsable] ...`` records a submission and prints "Submitted batch job N".
- ``srun [options] command ...`` records the step, redirects ``--output``/``--error`` (with
  ``%j %t %x %A %a %N %s %%``), sets the step variables and replaces itself with the command
  (exec), so a signal sent to the step reaches the task. One task on one node only.
- ``scancel [-s SIG] [-b] [-f] <job_id>...`` records the request (the harness delivers it).

``scontrol`` and ``scancel`` also tell the harness at once when ``RUNRESUME_CONTROL`` names its
socket (the SLURM scheduler profile acts on a requeue or cancel of the running job).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from typing import Any, NoReturn

EVENTS_ENV = "RUNRESUME_SLURM_EVENTS"


def _env_job_ids() -> set[str]:
    ids = set()
    if os.environ.get("SLURM_JOB_ID"):
        ids.add(os.environ["SLURM_JOB_ID"])
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        ids.add(f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}")
    return ids


def _restart_count() -> int | None:
    value = os.environ.get("SLURM_RESTART_COUNT", "")
    return int(value) if value.isdigit() else None


def _events_path(command: str) -> str:
    path = os.environ.get(EVENTS_ENV)
    if not path:
        sys.stderr.write(
            f"{command}: {EVENTS_ENV} is not set. This is pytest-runresume's fake {command}: it records "
            f"each request in the file that variable names, for the harness to act on.\n"
        )
        sys.exit(1)
    return path


def _record(tool: str, action: str, argv: list[str], exit_code: int, **data: Any) -> None:
    path = _events_path(tool)
    rec: dict[str, Any] = {
        "command": tool,
        "action": action,
        "argv": argv,
        "exit_code": exit_code,
        "job_id": os.environ.get("SLURM_JOB_ID"),
        "restart_count": _restart_count(),
        "time": time.time(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
    }
    rec.update(data)
    line = (json.dumps(rec, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write with O_APPEND: lines from concurrent commands do not mix
    finally:
        os.close(fd)
    if tool in NOTIFY and action in ("requeue", "requeuehold", "cancel"):
        _notify(rec)


#: Requests the harness acts on at once (a requeue or cancel of the running job): each is also
#: sent to the harness's control socket, when there is one, as an event it answers.
NOTIFY = ("scontrol", "scancel")
CONTROL_ENV = "RUNRESUME_CONTROL"


def _notify(rec: dict[str, Any]) -> None:
    """Tell the harness about ``rec`` over its Unix socket (one JSON line, one answer line) and wait
    for the answer, so the request is known before this command exits."""
    path = os.environ.get(CONTROL_ENV)
    if not path:
        return
    import socket

    # The harness ignores messages from processes outside the command's tree: say who is writing.
    msg = dict(rec, type="event", event="slurm", pid=os.getpid(), ppid=os.getppid())
    address = "\0" + path[1:] if path.startswith("@") else path  # "@name": the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(address)
            sock.sendall((json.dumps(msg) + "\n").encode("utf-8"))
            while True:
                data = sock.recv(64)
                if not data or b"\n" in data:
                    break
    except OSError as exc:
        sys.stderr.write(f"{rec['command']}: could not tell pytest-runresume's harness: {exc}\n")


def _finish(tool: str, action: str, argv: list[str], code: int, **data: Any) -> NoReturn:
    _record(tool, action, argv, code, **data)
    sys.exit(code)


def _split_ids(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        for prefix in ("jobid=", "job="):
            if item.lower().startswith(prefix):
                item = item[len(prefix) :]
        out.extend(p for p in item.split(",") if p)
    return out


def _hms(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}-" if days else "") + f"{h:02d}:{m:02d}:{s:02d}"


# --------------------------------------------------------------------------- scontrol


def _scontrol(argv: list[str]) -> NoReturn:
    args = list(argv)
    oneliner = False
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-o", "--oneliner"):
            oneliner = True
    if not args:
        _finish("scontrol", "unsupported", argv, 1, error="no command")
    tag, rest = args[0], args[1:]
    low = tag.lower()
    if len(low) >= 3 and "requeue".startswith(low):
        _requeue(argv, rest, hold=False)
    if low == "requeuehold":
        _requeue(argv, rest, hold=True)
    if low == "show" and rest:
        what = rest[0].lower()
        if what in ("job", "jobs", "jobid"):
            _show_job(argv, rest[1:], oneliner)
        if what in ("hostnames", "hostname"):
            nodelist = rest[1] if len(rest) > 1 else os.environ.get("SLURM_JOB_NODELIST", "")
            for host in _expand_hostlist(nodelist):
                print(host)
            _finish("scontrol", "show_hostnames", argv, 0)
    sys.stderr.write(f"scontrol: {' '.join(args)!r} is not simulated by pytest-runresume's fake scontrol\n")
    _finish("scontrol", "unsupported", argv, 1, error=f"not simulated: {tag}")


def _requeue(argv: list[str], rest: list[str], hold: bool) -> NoReturn:
    action = "requeuehold" if hold else "requeue"
    flags = []
    while rest and rest[0].lower() in ("incomplete", "state=specialexit"):
        flags.append(rest.pop(0))
    if not rest:
        sys.stderr.write(f"too few arguments for keyword:{action}\n")
        _finish("scontrol", action, argv, 1, error="too few arguments")
    known = _env_job_ids()
    allowed = os.environ.get("RUNRESUME_SLURM_REQUEUE", "1") != "0"
    done, errors = [], []
    for jid in _split_ids(rest):
        if jid not in known:
            errors.append(f"Invalid job id specified for job {jid}")
        elif not allowed:
            errors.append(f"Requested operation is presently disabled for job {jid}")
        else:
            done.append(jid)
    for e in errors:
        sys.stderr.write(e + "\n")
    _finish("scontrol", action, argv, 1 if errors else 0, job_ids=done, flags=flags, errors=errors)


def _show_job(argv: list[str], rest: list[str], oneliner: bool) -> NoReturn:
    known = _env_job_ids()
    ids = _split_ids(rest) or sorted(known)
    if not ids or any(j not in known for j in ids):
        sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
        _finish("scontrol", "show_job", argv, 1, error="invalid job id")
    env = os.environ
    limit = env.get("RUNRESUME_SLURM_TIME_LIMIT", "")
    fields = [
        [f"JobId={env['SLURM_JOB_ID']}", f"JobName={env.get('SLURM_JOB_NAME', '')}"],
        ["JobState=RUNNING", "Reason=None", "Dependency=(null)"],
        [
            f"Requeue={0 if env.get('RUNRESUME_SLURM_REQUEUE') == '0' else 1}",
            f"Restarts={_restart_count() or 0}",
            "BatchFlag=1",
            "ExitCode=0:0",
        ],
        [f"TimeLimit={_hms(int(limit)) if limit.isdigit() else 'UNLIMITED'}"],
        [f"Partition={env.get('SLURM_JOB_PARTITION', '')}", f"NodeList={env.get('SLURM_JOB_NODELIST', '')}"],
        ["NumNodes=1", f"NumTasks={env.get('SLURM_NTASKS', '1')}"],
        [f"WorkDir={env.get('SLURM_SUBMIT_DIR', os.getcwd())}"],
    ]
    if oneliner:
        print(" ".join(" ".join(f) for f in fields))
    else:
        print(" ".join(fields[0]))
        for f in fields[1:]:
            print("   " + " ".join(f))
    _finish("scontrol", "show_job", argv, 0, job_ids=ids)


def _expand_hostlist(text: str) -> list[str]:
    """``node[1-3,5],gpu7`` -> ``node1 node2 node3 node5 gpu7`` (zero padding kept)."""
    hosts: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?", text):
        prefix, ranges = m.group(1), m.group(2)
        if ranges is None:
            hosts.append(prefix)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            if hi:
                hosts.extend(f"{prefix}{n:0{len(lo)}d}" for n in range(int(lo), int(hi) + 1))
            else:
                hosts.append(prefix + lo)
    return hosts


# --------------------------------------------------------------------------- squeue


def _squeue(argv: list[str]) -> NoReturn:
    header = True
    wanted: list[str] | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--noheader"):
            header = False
        elif a in ("-j", "--jobs") and i + 1 < len(argv):
            i += 1
            wanted = _split_ids([argv[i]])
        elif a.startswith("--jobs="):
            wanted = _split_ids([a.split("=", 1)[1]])
        elif a.startswith("-j") and len(a) > 2:
            wanted = _split_ids([a[2:]])
        elif a in ("-u", "--user", "-o", "--format", "-t", "--states", "-p", "--partition", "-n", "--name"):
            i += 1  # accepted, not applied
        i += 1
    env = os.environ
    jid = env.get("SLURM_JOB_ID")
    if header:
        print(f"{'JOBID':>18} {'PARTITION':>9} {'NAME':>8} {'USER':>8} ST {'TIME':>10} {'NODES':>6} NODELIST(REASON)")
    shown = []
    if jid and (wanted is None or jid in wanted):
        user = env.get("USER", "user")
        name = env.get("SLURM_JOB_NAME", "")[:8]
        part = env.get("SLURM_JOB_PARTITION", "")[:9]
        print(f"{jid:>18} {part:>9} {name:>8} {user[:8]:>8}  R {'0:00':>10} {1:>6} {env.get('SLURM_JOB_NODELIST', '')}")
        shown.append(jid)
    _finish("squeue", "squeue", argv, 0, job_ids=shown)


# --------------------------------------------------------------------------- sbatch


def _sbatch(argv: list[str]) -> NoReturn:
    parsable = "--parsable" in argv
    base = os.environ.get("RUNRESUME_SLURM_NEXT_JOB_ID") or str(int(os.environ.get("SLURM_JOB_ID", "0") or 0) + 1)
    print(base if parsable else f"Submitted batch job {base}")
    sys.stdout.flush()
    _finish("sbatch", "submit", argv, 0, new_job_id=base)


# --------------------------------------------------------------------------- scancel


def _scancel(argv: list[str]) -> NoReturn:
    sig: str | None = None
    batch = full = False
    ids: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-s", "--signal") and i + 1 < len(argv):
            i += 1
            sig = argv[i]
        elif a.startswith("--signal="):
            sig = a.split("=", 1)[1]
        elif a.startswith("-s") and len(a) > 2:
            sig = a[2:]
        elif a in ("-b", "--batch"):
            batch = True
        elif a in ("-f", "--full"):
            full = True
        elif a.startswith("-"):
            pass  # -Q, -v ...: accepted, not applied
        else:
            ids.extend(_split_ids([a]))
        i += 1
    known = _env_job_ids()
    bad = [j for j in ids if j.split(".")[0] not in known]
    for j in bad:
        sys.stderr.write(f"scancel: error: Kill job error on job id {j}: Invalid job id specified\n")
    code = 1 if bad or not ids else 0
    _finish(
        "scancel", "cancel", argv, code, job_ids=[j for j in ids if j not in bad], signal=sig, batch=batch, full=full
    )


# --------------------------------------------------------------------------- srun

# srun options that take a value as the next argument when written without "=" (srun(1)).
_SRUN_SHORT_WITH_VALUE = set("AbcCdDeEGiJLmMnNoOpqrStTwWx")
_SRUN_LONG_WITH_VALUE = {
    "account", "chdir", "constraint", "cpus-per-task", "cpu-bind", "dependency", "distribution",
    "error", "exclude", "export", "gpus", "gpus-per-node", "gpus-per-task", "gres", "input",
    "job-name", "jobid", "mem", "mem-per-cpu", "mem-per-gpu", "mpi", "nodelist", "nodes", "ntasks",
    "ntasks-per-node", "open-mode", "output", "partition", "qos", "reservation", "signal", "time",
}  # fmt: skip


def _srun(argv: list[str]) -> NoReturn:
    opts: dict[str, str | None] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if not eq and name in _SRUN_LONG_WITH_VALUE and i < len(argv):
                value, eq = argv[i], "="
                i += 1
            opts[name] = value if eq else None
        else:
            short = a[1]
            value = a[2:]
            if not value and short in _SRUN_SHORT_WITH_VALUE and i < len(argv):
                value = argv[i]
                i += 1
            long = {"n": "ntasks", "N": "nodes", "o": "output", "e": "error", "J": "job-name"}.get(short, short)
            opts[long] = value or None
    command = argv[i:]
    if not command:
        sys.stderr.write("srun: fatal: No command given to execute.\n")
        _finish("srun", "step", argv, 1, error="no command")
    for name in ("ntasks", "nodes"):
        if opts.get(name) not in (None, "1"):
            sys.stderr.write(
                f"srun: pytest-runresume's fake srun runs one task on one node; --{name}={opts[name]} is not simulated\n"
            )
            _finish("srun", "step", argv, 1, error=f"--{name}={opts[name]} not simulated")
    exe = command[0]
    if not (shutil.which(exe) if "/" not in exe else os.access(exe, os.X_OK)):
        node = os.environ.get("SLURMD_NODENAME", "localhost")
        sys.stderr.write(
            f"srun: error: {node}: task 0: Exited with exit code 2\nslurmstepd: error: execve(): {exe}: No such file or directory\n"
        )
        _finish("srun", "step", argv, 2, step_argv=command, error=f"execve(): {exe}: No such file or directory")
    previous = _steps_so_far()
    env = os.environ
    job_id = env.get("SLURM_JOB_ID", "0")
    subst = {
        "j": job_id,
        "t": "0",
        "s": str(previous),
        "x": env.get("SLURM_JOB_NAME", ""),
        "A": env.get("SLURM_ARRAY_JOB_ID", job_id),
        "a": env.get("SLURM_ARRAY_TASK_ID", "4294967294"),
        "N": env.get("SLURMD_NODENAME", "localhost"),
        "u": env.get("USER", "user"),
    }

    def expand(pattern: str) -> str:
        return re.sub(
            r"%(%|[a-zA-Z])", lambda m: "%" if m.group(1) == "%" else subst.get(m.group(1), m.group(0)), pattern
        )

    mode = "a" if opts.get("open-mode") == "append" else "w"
    output, error = opts.get("output"), opts.get("error")
    out_path = expand(output) if output else None
    err_path = expand(error) if error else None
    os.environ.update(
        SLURM_STEP_ID=str(previous),
        SLURM_STEPID=str(previous),
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
        SLURM_NODEID="0",
        SLURM_STEP_NUM_TASKS="1",
        SLURM_STEP_NUM_NODES="1",
        SLURM_STEP_NODELIST=env.get("SLURM_JOB_NODELIST", "localhost"),
        SLURM_STEP_TASKS_PER_NODE="1",
    )
    _record("srun", "step", argv, 0, step_argv=command, step_id=previous, output=out_path, error_file=err_path)
    sys.stdout.flush()
    sys.stderr.flush()
    if out_path:
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o644)
        os.dup2(fd, 1)
        if not err_path:
            os.dup2(fd, 2)  # srun(1): without --error, stderr goes where --output goes
        os.close(fd)
    if err_path:
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    os.execvp(exe, command)


def _steps_so_far() -> int:
    """Steps already launched in this run of the job: the next step id (0, 1, ...)."""
    path = os.environ.get(EVENTS_ENV, "")
    job, restarts = os.environ.get("SLURM_JOB_ID"), _restart_count()
    count = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if (
                    rec.get("command") == "srun"
                    and rec.get("exit_code") == 0
                    and rec.get("job_id") == job
                    and rec.get("restart_count") == restarts
                ):
                    count += 1
    except OSError:
        pass
    return count


COMMANDS = {"scontrol": _scontrol, "squeue": _squeue, "sbatch": _sbatch, "srun": _srun, "scancel": _scancel}


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv if argv is None else argv
    name = os.path.basename(args[0])
    handler = COMMANDS.get(name)
    if handler is None:
        sys.stderr.write(f"fake SLURM: unknown command {name!r}; install as one of {sorted(COMMANDS)}\n")
        sys.exit(2)
    _events_path(name)
    handler(list(args[1:]))


if __name__ == "__main__":
    main()
