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

The commands' records are written by ``fake_slurm_events.py`` and ``srun`` is ``fake_srun.py``, both
beside this file (and beside every installed copy of it): it finds them on ``sys.path[0]``, the
directory of the script it runs as.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # the type checker reads this directory as a namespace package
    from .fake_slurm_events import env_job_ids, events_path, finish, restart_count
    from .fake_srun import srun as _srun
else:  # run as a script: its modules are beside it (even with PYTHONSAFEPATH set)
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    from fake_slurm_events import env_job_ids, events_path, finish, restart_count
    from fake_srun import srun as _srun


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
        finish("scontrol", "unsupported", argv, 1, error="no command")
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
            finish("scontrol", "show_hostnames", argv, 0)
    sys.stderr.write(f"scontrol: {' '.join(args)!r} is not simulated by pytest-runresume's fake scontrol\n")
    finish("scontrol", "unsupported", argv, 1, error=f"not simulated: {tag}")


def _requeue(argv: list[str], rest: list[str], hold: bool) -> NoReturn:
    action = "requeuehold" if hold else "requeue"
    flags = []
    while rest and rest[0].lower() in ("incomplete", "state=specialexit"):
        flags.append(rest.pop(0))
    if not rest:
        sys.stderr.write(f"too few arguments for keyword:{action}\n")
        finish("scontrol", action, argv, 1, error="too few arguments")
    known = env_job_ids()
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
    finish("scontrol", action, argv, 1 if errors else 0, job_ids=done, flags=flags, errors=errors)


def _show_job(argv: list[str], rest: list[str], oneliner: bool) -> NoReturn:
    known = env_job_ids()
    ids = _split_ids(rest) or sorted(known)
    if not ids or any(j not in known for j in ids):
        sys.stderr.write("slurm_load_jobs error: Invalid job id specified\n")
        finish("scontrol", "show_job", argv, 1, error="invalid job id")
    env = os.environ
    limit = env.get("RUNRESUME_SLURM_TIME_LIMIT", "")
    fields = [
        [f"JobId={env['SLURM_JOB_ID']}", f"JobName={env.get('SLURM_JOB_NAME', '')}"],
        ["JobState=RUNNING", "Reason=None", "Dependency=(null)"],
        [
            f"Requeue={0 if env.get('RUNRESUME_SLURM_REQUEUE') == '0' else 1}",
            f"Restarts={restart_count() or 0}",
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
    finish("scontrol", "show_job", argv, 0, job_ids=ids)


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
    finish("squeue", "squeue", argv, 0, job_ids=shown)


# --------------------------------------------------------------------------- sbatch


def _sbatch(argv: list[str]) -> NoReturn:
    parsable = "--parsable" in argv
    base = os.environ.get("RUNRESUME_SLURM_NEXT_JOB_ID") or str(int(os.environ.get("SLURM_JOB_ID", "0") or 0) + 1)
    print(base if parsable else f"Submitted batch job {base}")
    sys.stdout.flush()
    finish("sbatch", "submit", argv, 0, new_job_id=base)


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
    known = env_job_ids()
    bad = [j for j in ids if j.split(".")[0] not in known]
    for j in bad:
        sys.stderr.write(f"scancel: error: Kill job error on job id {j}: Invalid job id specified\n")
    code = 1 if bad or not ids else 0
    finish(
        "scancel", "cancel", argv, code, job_ids=[j for j in ids if j not in bad], signal=sig, batch=batch, full=full
    )


# --------------------------------------------------------------------------- srun


COMMANDS = {"scontrol": _scontrol, "squeue": _squeue, "sbatch": _sbatch, "srun": _srun, "scancel": _scancel}


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv if argv is None else argv
    name = os.path.basename(args[0])
    handler = COMMANDS.get(name)
    if handler is None:
        sys.stderr.write(f"fake SLURM: unknown command {name!r}; install as one of {sorted(COMMANDS)}\n")
        sys.exit(2)
    events_path(name)
    handler(list(args[1:]))


if __name__ == "__main__":
    main()
