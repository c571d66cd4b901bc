"""One name per thing: the model (``Model``), the served fake (``FakeServer``), the fixtures
``wandb_server_session`` / ``wandb_server`` / ``wandb_model``; the old names still work for one
release and say what replaced them."""

from __future__ import annotations

import pytest

import pytest_runresume
from pytest_runresume import model, wire


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        (pytest_runresume, "Backend", "Model"),
        (pytest_runresume, "ServedBackend", "FakeServer"),
        (model, "Backend", "Model"),
        (wire, "ServedBackend", "FakeServer"),
    ],
)
def test_an_old_class_name_warns_and_gives_the_new_class(module: object, old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated .* use .*\.{new}$"):
        value = getattr(module, old)
    assert value is getattr(module, new)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Backends'"):
        model.Backends  # noqa: B018


def test_the_server_and_the_harness_call_the_model_model(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_runresume import FakeServer, Model

        def test_new_names(wandb_server, wandb_server_session, wandb_model, runresume):
            assert isinstance(wandb_server, FakeServer) and wandb_server is wandb_server_session
            assert isinstance(wandb_server.model, Model) and runresume.model is wandb_server.model
            assert isinstance(wandb_model, Model) and wandb_model is not wandb_server.model

        def test_old_attribute_names_warn(wandb_server, runresume):
            with pytest.warns(DeprecationWarning, match="FakeServer.backend is deprecated"):
                assert wandb_server.backend is wandb_server.model
            with pytest.warns(DeprecationWarning, match="runresume.backend is deprecated"):
                assert runresume.backend is wandb_server.model
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_old_fixture_names_warn_and_give_the_new_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_runresume import FakeServer, Model

        def test_old(wandb_backend, runresume_server, runresume_model, wandb_server):
            assert wandb_backend is wandb_server and runresume_server is wandb_server
            assert isinstance(runresume_model, Model)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "always::DeprecationWarning")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    for old, new in (
        ("wandb_backend", "wandb_server"),
        ("runresume_server", "wandb_server_session"),
        ("runresume_model", "wandb_model"),
    ):
        assert f"fixture {old} is deprecated and will be removed in the next release: use {new}\n" in out


def test_the_old_hook_name_still_runs_and_warns(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        SEEN = []

        def pytest_runresume_backend_started(served):
            SEEN.append(served.url)
        """
    )
    pytester.makepyfile(
        """
        from conftest import SEEN

        def test_hook_ran(wandb_server):
            assert SEEN == [wandb_server.url]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "always::DeprecationWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*pytest_runresume_backend_started is deprecated*pytest_runresume_server_started*"])
