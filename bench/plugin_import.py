"""The plugin's cost in every pytest session: ``pytest --co`` of an empty test file with the plugin
against the same command with it disabled (``-p no:runresume -p no:runresume_conformance``).

    python bench/plugin_import.py [--reps 20]

Both sides start the same interpreter and the same pytest and collect the same empty file; the
difference of the medians is what the plugin adds to a session that uses none of it (target
<= 50 ms: the server, GraphQL and the harness are imported only when a fixture needs them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import figure, interleaved, load, median, spread, timed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=20)
    args = p.parse_args()
    print(f"plugin_import: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "test_empty.py").write_text("")
        base = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "test_empty.py"]

        def run(extra: list[str]) -> float:
            def go() -> None:
                proc = subprocess.run(base + extra, cwd=tmp, capture_output=True, text=True, timeout=60)
                if proc.returncode not in (0, 5):  # 5: no tests collected
                    raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

            return timed(go)

        times = interleaved(
            {
                "with the plugin": lambda i: run([]),
                "without": lambda i: run(["-p", "no:runresume", "-p", "no:runresume_conformance"]),
            },
            args.reps,
        )
    for name, xs in times.items():
        print(f"  pytest --co, {name}: {spread(xs)}")
    added = (median(times["with the plugin"]) - median(times["without"])) * 1000
    figure(
        "plugin import, pytest --co with the plugin minus without",
        f"{added:.0f} ms (absolute difference of two same-run medians)",
        "<= 50 ms",
        added <= 50,
        f"pytest --co -p no:runresume -p no:runresume_conformance, median {median(times['without']):.3f} s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
