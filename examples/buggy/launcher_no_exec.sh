#!/usr/bin/env bash
# BUGGY on purpose -- bug class: a launcher script that does not pass the signal on.
#
#     bash launcher_no_exec.sh --run-id my-run --steps 20 [--ckpt checkpoint.json]
#
# A typical job wrapper: set things up, run the (correct) examples/train.py, report its status.
# It starts Python as a child WITHOUT `exec` and has no `trap`, so bash stays the job's main process
# and the scheduler's preemption signal (SIGUSR1/SIGTERM sent to that process) reaches bash, never
# Python. Bash dies of it (or, as PID 1 of a container, ignores it); train.py's handler never runs:
# no checkpoint at the signal, no mark_preempting(), no 128+signum exit. When the job is torn down
# (the grace period ends, SIGKILL), the run ends CRASHED (R60, R70e "none") and is not requeued as
# preempted, although train.py itself is correct.
#
# Rule broken: R68 (the handler must actually receive the preemption signal: `exec python ...`, or
# trap and forward it to the child); see also R75/R76 for the same problem in `wandb agent`.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
echo "launcher: starting train.py $*" >&2
"${PYTHON:-python}" "$here/../train.py" "$@"  # BUG: no exec, no trap -- signals stop at bash
status=$?
echo "launcher: train.py exited with $status" >&2
exit "$status"
