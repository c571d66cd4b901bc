"""The in-process transport: requests-mock answers with the same model as the HTTP server."""

from __future__ import annotations

import pytest
import requests
import requests_mock

VIEWER = {"query": "query Viewer { viewer { id entity username } }"}


def test_in_process_requests_reach_the_same_model(wandb_requests_mock, wandb_server):
    """One model behind both transports: a run created in-process is what the served backend holds."""
    auth = ("api", wandb_server.api_key)
    r = requests.post(wandb_server.url + "/graphql", json=VIEWER, auth=auth, timeout=5)
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["entity"] == wandb_server.model.entity
    upsert = {
        "query": "mutation UpsertBucket($name: String, $project: String) { upsertBucket(input: {name: $name}) { inserted } }",
        "variables": {"name": "inproc-1", "project": "p", "program": "x.py"},
    }
    r = requests.post(wandb_server.url + "/graphql", json=upsert, auth=auth, timeout=5)
    assert r.json()["data"]["upsertBucket"]["inserted"] is True
    assert wandb_server.model.state(wandb_server.model.run("p/inproc-1")) == "running"
    assert len(wandb_requests_mock.mocker.request_history) == 2


def test_in_process_checks_the_api_key(wandb_requests_mock, wandb_server):
    """The key is checked in-process too: a wrong key gets 401."""
    r = requests.post(wandb_server.url + "/graphql", json=VIEWER, auth=("api", "wrong"), timeout=5)
    assert r.status_code == 401


def test_any_other_host_is_refused(wandb_requests_mock):
    """No real network: a request to a real W&B host fails loudly instead of leaving the machine."""
    with pytest.raises(requests_mock.exceptions.NoMockAddress, match="api.wandb.ai"):
        requests.get("https://api.wandb.ai/graphql", timeout=5)
