"""The plugin loads in every pytest session of a user's repository: importing it (and the
conformance plugin) must not load the server, GraphQL, the harness's runner, results and scheduler
profiles, the run store or wandb; those load
when a fixture first needs them. (The time it adds is measured in ``bench/plugin_import.py``.)"""

import subprocess
import sys

HEAVY = (
    "werkzeug",
    "graphql",
    "wandb",
    "yaml",
    "pytest_runresume.wire",
    "pytest_runresume.harness.runner",
    "pytest_runresume.harness.results",
    "pytest_runresume.harness.schedulers",
    "pytest_runresume.model.store",
    "pytest_runresume.model.sweeps",
)


def test_importing_the_plugins_loads_nothing_heavy():
    code = (
        "import sys, pytest_runresume.plugin, pytest_runresume.conformance.plugin, pytest_runresume;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith({HEAVY!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_the_public_names_still_import_on_use():
    code = (
        "import pytest_runresume as p, pytest_runresume.harness as h, pytest_runresume.conformance as c;"
        "print(p.Harness.__name__, p.FakeServer.__name__, h.RunResult.__name__, c.EntrypointBattery.__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["Harness", "FakeServer", "RunResult", "EntrypointBattery"]
