"""``runresume check``: entrypoint conformance (placeholder while it is written)."""

import click


@click.command()
def check() -> None:
    """Entrypoint conformance."""
