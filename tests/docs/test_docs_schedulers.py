"""The scheduler pages' recipes run as written (``docs/schedulers/{slurm,kubernetes,spot}.md``): the
batch script and the tests beside ``examples/train.py`` in a user's project, in a pytest
session of its own with the real wandb SDK; the pod spec and the systemd unit are checked against the
profile the tests use. These are the correct setups of each profile: they must pass (no false
positive). About 25 s of wall time at ``-n 2``."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "schedulers"
TRAIN = ROOT / "examples" / "train.py"


def blocks(page: str, lang: str) -> list[str]:
    """The fenced ``lang`` code blocks of ``docs/schedulers/page``."""
    text = (PAGES / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)


def run_recipe(pytester: pytest.Pytester, page: str, **files: str) -> pytest.RunResult:
    (code,) = blocks(page, "python")
    (pytester.path / "train.py").write_text(TRAIN.read_text())
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    pytester.makepyfile(test_recipe=code)
    return pytester.runpytest("-p", "no:cacheprovider", "-rf")


def test_slurm_recipe_passes(pytester):
    (script,) = [b for b in blocks("slurm.md", "bash") if "#SBATCH" in b]
    result = run_recipe(pytester, "slurm.md", **{"job.sbatch": script})
    result.assert_outcomes(passed=2)


def test_kubernetes_recipe_passes_and_matches_its_pod_spec(pytester):
    yaml = pytest.importorskip("yaml")
    (spec,) = blocks("kubernetes.md", "yaml")
    job = yaml.safe_load(spec)
    pod = job["spec"]["template"]["spec"]
    (code,) = blocks("kubernetes.md", "python")
    container = pod["containers"][0]
    assert pod["restartPolicy"] in code and f'restart_policy="{pod["restartPolicy"]}"' in code
    mounted = {m["name"] for m in container["volumeMounts"] if m["mountPath"] == container["workingDir"]}
    assert [v for v in pod["volumes"] if v["name"] in mounted and "persistentVolumeClaim" in v]
    assert 'volume="persistentVolumeClaim"' in code
    shell = container["command"][-1]
    assert shell.startswith("exec python train.py") and shell.split("train.py", 1)[1] in code
    result = run_recipe(pytester, "kubernetes.md")
    result.assert_outcomes(passed=2)


def test_spot_recipe_passes_and_matches_its_unit(pytester):
    (unit,) = blocks("spot.md", "ini")
    parser = configparser.ConfigParser(strict=True)
    parser.read_string(unit)
    service = parser["Service"]
    (code,) = blocks("spot.md", "python")
    assert service["KillMode"] == "mixed" and 'kill_mode="mixed"' in code
    assert shlex.split(service["ExecStart"])[2:] == ["--run-id", "train-vm", "--steps", "8"]
    result = run_recipe(pytester, "spot.md")
    result.assert_outcomes(passed=2)
