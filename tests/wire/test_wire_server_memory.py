"""What a request may cost the served fake in memory (issue 14): a gzip bomb is refused having held
a few pieces of its compressed bytes, not its inflated bytes up to ``max_decompressed`` nor the
10 MB werkzeug's drain after an answer used to allocate for every connection."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator

import pytest
import requests

from pytest_runresume.wire import FakeServer

BOMB_INFLATED = 1024 * 1024 * 1024  # 1 GiB of one byte: about 1 MB compressed


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip.compress(b"x" * BOMB_INFLATED, 9)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_is_refused_holding_under_2_mb(bomb, traced):
    with FakeServer() as srv:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        r = requests.post(
            f"{srv.url}/files/e/p/r/file_stream",
            data=bomb,
            auth=("api", srv.api_key),
            headers={"Content-Encoding": "gzip"},
            timeout=30,
        )
        peak = tracemalloc.get_traced_memory()[1] - base
        assert r.status_code == 413 and r.json()["error"].endswith("(max_decompressed)"), r.text
        assert srv.app.inflight.held == 0
    # the client's copy of the bomb was made before tracing; the server's share is what is left
    assert peak < 2 * 1024 * 1024, f"{peak / 2**20:.1f} MiB held while refusing a gzip bomb"


def test_a_good_gzip_body_after_a_bomb_is_still_served(bomb):
    with FakeServer() as srv:
        auth = ("api", srv.api_key)
        url = f"{srv.url}/files/e/p/r/file_stream"
        headers = {"Content-Encoding": "gzip"}
        assert requests.post(url, data=bomb, auth=auth, headers=headers, timeout=30).status_code == 413
        upsert = "mutation UpsertBucket($name: String, $project: String, $entity: String) { upsertBucket(input: {name: $name, modelName: $project, entityName: $entity}) { bucket { id } } }"
        r = requests.post(
            f"{srv.url}/graphql",
            json={"query": upsert, "variables": {"name": "r", "project": "p", "entity": "e"}},
            auth=auth,
            timeout=30,
        )
        assert r.ok and "errors" not in r.json(), r.text
        body = gzip.compress(b'{"files": {"output.log": {"offset": 0, "content": ["hi", "there"]}}}')
        assert requests.post(url, data=body, auth=auth, headers=headers, timeout=30).status_code == 200
        assert srv.model.run("e/p/r").files["output.log"] == ["hi", "there"]
