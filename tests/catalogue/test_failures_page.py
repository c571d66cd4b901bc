"""``docs/failures.md`` is what ``tools/gen_failures.py`` makes of the finding codes and the catalogue."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_failures_page_is_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_failures.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
