"""The SDK version facts (pytest_runresume.model.sdk_versions) and the matrix that runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_runresume.model import sdk_versions
from pytest_runresume.model.sdk_versions import UnknownSDKVersion, installed_sdk, is_supported, parse_version

ROOT = Path(__file__).resolve().parents[2]


def test_parse_version_reads_release_and_prerelease_strings():
    assert parse_version("0.28.2") == (0, 28, 2)
    assert parse_version("0.19") == (0, 19, 0)
    assert parse_version("0.32.0rc1") == (0, 32, 0)
    assert parse_version(" 0.22.3.dev0 ") == (0, 22, 3)


@pytest.mark.parametrize("text", ["", "latest", "v0.31.0", "0"])
def test_parse_version_names_a_bad_string(text):
    with pytest.raises(UnknownSDKVersion, match="not a wandb version"):
        parse_version(text)


def test_the_installed_sdk_is_in_the_supported_range():
    """The matrix runs only supported releases; a test run on another one is not a supported setup."""
    sdk = installed_sdk()
    assert sdk is not None and is_supported(sdk), sdk


def test_the_matrix_is_the_latest_patch_of_each_minor_in_the_range():
    """``SUPPORTED_SDKS`` (the nox sessions) has one release per minor, newest first, the oldest is
    :data:`OLDEST_SUPPORTED` and every one is in the range."""
    minors = [parse_version(v)[:2] for v in sdk_versions.SUPPORTED_SDKS]
    assert minors == sorted(set(minors), reverse=True)
    assert minors == [(0, m) for m in range(31, 18, -1)]
    assert parse_version(sdk_versions.SUPPORTED_SDKS[-1]) == sdk_versions.OLDEST_SUPPORTED
    assert all(is_supported(parse_version(v)) for v in sdk_versions.SUPPORTED_SDKS)


def test_the_package_declares_the_supported_range():
    text = (ROOT / "pyproject.toml").read_text()
    oldest = ".".join(map(str, sdk_versions.OLDEST_SUPPORTED))
    first_out = ".".join(map(str, sdk_versions.FIRST_UNSUPPORTED[:2]))
    assert f'wandb = ["wandb>={oldest},<{first_out}"]' in text


def test_every_fact_is_a_row_of_the_docs_with_its_rule():
    """docs/sdk-versions.md has one row per fact: its name, its rule and the release it changed in."""
    rows = [line for line in (ROOT / "docs" / "sdk-versions.md").read_text().splitlines() if line.startswith("|")]
    for known in sdk_versions.FACTS:
        row = next((r for r in rows if f"`{known.name}`" in r), None)
        assert row is not None, f"no row for {known.name} in docs/sdk-versions.md"
        assert known.rule in row and ".".join(map(str, known.since)) in row, row


def test_has_answers_by_release_and_names_an_unknown_fact():
    assert sdk_versions.has("run_stop", (0, 28, 0)) and not sdk_versions.has("run_stop", (0, 27, 2))
    assert sdk_versions.has("summary_step_resume_plus_one", (0, 31, 0))
    assert not sdk_versions.has("summary_step_resume_plus_one", (0, 30, 0))
    with pytest.raises(KeyError, match="no SDK fact 'nope'"):
        sdk_versions.has("nope", (0, 31, 0))
