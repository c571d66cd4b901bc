"""``python -m pytest_runresume.cli``: the ``runresume`` command."""

from . import main

main(prog_name="runresume")
