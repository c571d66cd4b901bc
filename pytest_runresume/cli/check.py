"""``runresume check -- CMD...``: entrypoint conformance from the command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from ..conformance.entrypoint import CHECKS, EntrypointBattery, render_details, render_table, write_pictures
from ..conformance.entrypoint import junit_xml as junit_report
from ..harness import parse_signal
from ..harness.schedulers import SCHEDULERS, scheduler_from_name
from ..harness.spec import TARGETS

CHECK_NAMES = [c.name for c in CHECKS]


def _signal(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_signal(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--signal", "sig", default="SIGUSR1", show_default=True, callback=_signal, help="the preemption signal")
@click.option(
    "--step", type=click.IntRange(min=0), default=2, show_default=True, help="signal / raise after this W&B step"
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default="process",
    show_default=True,
    help="who gets every signal the battery sends (the preemption signal and SIGKILL): process = the "
    "command's own process; point = the process that reached the trigger point (the training run when "
    "the command is a launcher); group = every process of the command's tree, wandb-core included, as "
    "a scheduler's cancel does",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="the grace period: seconds from the preemption signal to SIGKILL if the command has not exited "
    "(SLURM's KillWait, Kubernetes' terminationGracePeriodSeconds, a spot VM's notice); a handler slower "
    "than this fails the check, naming it  [default: 30; with --scheduler, the scheduler's]",
)
@click.option(
    "--scheduler",
    type=click.Choice(sorted(SCHEDULERS)),
    help="run every check under this scheduler profile: the command is what it runs (slurm: the batch script "
    "and its arguments; kubernetes: the container's command; spot-*: the training command), and the "
    "preemption is what it delivers (docs/schedulers/)",
)
@click.option(
    "--volume",
    type=click.Choice(["emptyDir", "persistentVolumeClaim"]),
    help="with --scheduler kubernetes: the volume the container's working directory is on (default: none, "
    "the container's own filesystem)",
)
@click.option(
    "--only",
    help=f"comma-separated checks to run (default all): {', '.join(CHECK_NAMES)}",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), default=120.0, show_default=True, help="seconds per run"
)
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write a JUnit XML report here, and beside it a picture (HTML) of the runs of each failed check",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="keep the checks' working directories (and W&B files) here instead of a temporary directory; "
    "without --junit-xml, the pictures of failed checks go here too",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def check(
    sig: str,
    step: int,
    target: str,
    grace: float | None,
    scheduler: str | None,
    volume: str | None,
    only: str | None,
    timeout: float,
    junit_xml: Path | None,
    workdir: Path | None,
    command: tuple[str, ...],
) -> None:
    """Check that a training COMMAND survives preemption by the W&B rules.

    Runs a standard battery against an embedded fake W&B backend, each check in a fresh working
    directory: completes -> finished; the preemption signal after step N -> preempted, exit
    128+signum, requeueable; a restart with the same id -> resumed at the right step, no step twice;
    SIGKILL -> crashed after the timeout; SIGKILL, then the same command again (restarted_after_kill)
    -> the same run resumed, no step twice, finished; an exception -> failed, not preempted;
    resume="auto" in the same / another directory. Exits 1 if a check fails, and every failure names
    its likely cause with its rule (the same diagnosis as the pytest plugin's; docs/failures.md).
    --target says who gets the signals: the command's process, the process at the trigger point, or
    every process of its tree (group); --grace how long a handler may take before SIGKILL.
    --scheduler runs every check under a scheduler profile (slurm, kubernetes, spot-gcp, spot-aws):
    the command is what that scheduler runs and the preemption is what it delivers, e.g.
    runresume check --scheduler slurm --grace 5 -- job.sbatch --steps 8.

    Run ids: finishes, preempted, crashed, restarted_after_kill and failed give the command a new run
    id in WANDB_RUN_ID (restarted_after_kill: the same one to the killed start and the restart, in
    the same directory), resumed gives it the preempted check's id again (in that check's
    directory); the command must honour it (wandb.init reads it when no id= is passed). The two
    resume="auto" checks run it without WANDB_RUN_ID: they test the SDK finding the id in
    wandb/wandb-resume.json of the working directory (R09-R12), and are skipped when the command
    writes no such file (it does not use resume="auto", or needs its run id from outside and exits
    without one, with a message or an error about its run id). Started without one, a command that
    crashes on anything else fails them: every first start of a new job takes that path.

    Example: runresume check -- python train.py --epochs 2
    """
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    unknown = sorted(set(names or ()) - set(CHECK_NAMES))
    if unknown:
        raise click.BadParameter(f"unknown check(s) {unknown}; known: {CHECK_NAMES}", param_hint="--only")
    if volume is not None and scheduler != "kubernetes":
        raise click.BadParameter("--volume goes with --scheduler kubernetes", param_hint="--volume")
    profile = None
    if scheduler is not None:
        profile = scheduler_from_name(scheduler, **({"volume": volume} if volume else {}))
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    if grace is None and profile is None:
        grace = 30.0
    with EntrypointBattery(
        list(command), sig, step, base_dir=workdir, timeout=timeout, target=target, grace=grace, scheduler=profile
    ) as battery:
        click.echo(f"runresume check: {battery.description}")
        results = []
        for name in names or CHECK_NAMES:
            result = battery.run_check(name)
            results.append(result)
            click.echo(f"  {result.name}: {result.status}", err=True)
        where = junit_xml.parent if junit_xml is not None else workdir
        pictures = write_pictures(results, where) if where is not None else []
        click.echo(render_table(results))
        details = render_details(results)
        if details:
            click.echo("\n" + details)
        if pictures:
            click.echo(f"\npictures of the failed checks' runs: {', '.join(str(p) for p in pictures)}")
    if junit_xml is not None:
        junit_xml.parent.mkdir(parents=True, exist_ok=True)
        junit_xml.write_bytes(junit_report(results, shlex.join(command)))
    sys.exit(1 if any(r.status == "failed" for r in results) else 0)
