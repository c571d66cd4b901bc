"""The public API's read operations over HTTP (``wire.public``): file listings and signed downloads,
the parquet export, run listings, the viewer, projects, deletes and the server features.
The same operations with the real SDK: ``tests/e2e/test_e2e_public_api.py``."""

from __future__ import annotations

import json

import pytest
import requests

from pytest_runresume.model import RunUpsert
from pytest_runresume.wire import FakeServer, parquet

TIMEOUT = 10

RUN_FILES = """query RunFiles($project: String!, $entity: String!, $name: String!, $fileCursor: String,
  $fileLimit: Int = 50, $fileNames: [String] = [], $pattern: String) {
  project(name: $project, entityName: $entity) { internalId run(name: $name) { fileCount
    files(names: $fileNames, after: $fileCursor, first: $fileLimit, pattern: $pattern) {
      edges { node { id name url sizeBytes md5 } cursor } pageInfo { endCursor hasNextPage } } } } }"""
PARQUET = """query RunParquetHistory($entity: String!, $project: String!, $runName: String!, $liveKeys: [String!]!) {
  project(name: $project, entityName: $entity) { run(name: $runName) { parquetHistory(liveKeys: $liveKeys) {
    parquetUrls liveData } } } }"""


def gql(served: FakeServer, query: str, variables: dict) -> dict:
    r = requests.post(
        f"{served.url}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", served.api_key),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def a_run(served: FakeServer, finished: bool = True) -> None:
    b = served.model
    b.upsert_run(RunUpsert.from_variables({"name": "r", "project": "p", "host": "h"}))
    rows = [json.dumps({"_step": i, "loss": 1.0 / (i + 1)}) for i in range(3)]
    from pytest_runresume.model import FileChunk

    b.file_stream(b.key(None, "p", "r"), {"wandb-history.jsonl": FileChunk(0, rows)}, complete=finished, exit_code=0)
    for name in ("a.json", "b.txt", "c.json"):
        b.upload(b.key(None, "p", "r"), name, name.encode() * 3)


def files_page(served: FakeServer, **v) -> dict:
    out = gql(served, RUN_FILES, {"entity": "testent", "project": "p", "name": "r", **v})
    return out["data"]["project"]["run"]


def test_run_files_pages_by_cursor_filters_by_names_and_like_patterns(served):
    a_run(served)
    first = files_page(served, fileLimit=2)
    assert first["fileCount"] == 3 and [e["node"]["name"] for e in first["files"]["edges"]] == ["a.json", "b.txt"]
    assert first["files"]["pageInfo"]["hasNextPage"] is True
    rest = files_page(served, fileLimit=2, fileCursor=first["files"]["pageInfo"]["endCursor"])
    assert [e["node"]["name"] for e in rest["files"]["edges"]] == ["c.json"]
    assert not rest["files"]["pageInfo"]["hasNextPage"]
    assert [e["node"]["name"] for e in files_page(served, pattern="%.json")["files"]["edges"]] == ["a.json", "c.json"]
    assert [e["node"]["name"] for e in files_page(served, fileNames=["b.txt"])["files"]["edges"]] == ["b.txt"]


def test_downloads_need_the_signature_of_that_file_and_answer_ranges(served):
    a_run(served)
    edges = files_page(served)["files"]["edges"]
    url = edges[0]["node"]["url"]
    assert requests.get(url, timeout=TIMEOUT).content == b"a.jsona.jsona.json"
    assert edges[0]["node"]["sizeBytes"] == 18
    r = requests.get(url, headers={"Range": "bytes=0-5"}, timeout=TIMEOUT)
    assert r.status_code == 206 and r.content == b"a.json"
    unsigned = url.split("?")[0]
    assert requests.get(unsigned, timeout=TIMEOUT).status_code == 401
    other = edges[1]["node"]["url"].split("?")[1]
    assert requests.get(f"{unsigned}?{other}", timeout=TIMEOUT).status_code == 401  # b.txt's signature
    upload_sig = served.app.sign_upload("testent/p/r/a.json")
    assert requests.get(f"{unsigned}?sig={upload_sig}", timeout=TIMEOUT).status_code == 401  # an upload URL's
    assert served.model.problems == []


@pytest.mark.skipif(not parquet.available(), reason="pyarrow is not installed (the parquet extra)")
def test_an_ended_run_is_exported_to_parquet_a_live_one_is_live_data(served):
    import io

    import pyarrow.parquet as pq

    a_run(served)
    answer = gql(served, PARQUET, {"entity": "testent", "project": "p", "runName": "r", "liveKeys": ["_step"]})
    ph = answer["data"]["project"]["run"]["parquetHistory"]
    assert ph["liveData"] == [] and len(ph["parquetUrls"]) == 1
    table = pq.read_table(io.BytesIO(requests.get(ph["parquetUrls"][0], timeout=TIMEOUT).content))
    assert table.to_pylist() == [{"_step": i, "loss": 1.0 / (i + 1)} for i in range(3)]
    assert str(table.schema.field("_step").type) == "int64"
    stale = ph["parquetUrls"][0].replace("history-3", "history-2")
    assert requests.get(stale, timeout=TIMEOUT).status_code == 401  # another name: not signed
    served.reset()
    a_run(served, finished=False)
    answer = gql(served, PARQUET, {"entity": "testent", "project": "p", "runName": "r", "liveKeys": ["_step"]})
    ph = answer["data"]["project"]["run"]["parquetHistory"]
    assert ph == {"parquetUrls": [], "liveData": [{"_step": 0}, {"_step": 1}, {"_step": 2}]}


def test_server_features_are_the_ones_the_fake_implements(served):
    q = "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }"
    features = {f["name"]: f["isEnabled"] for f in gql(served, q, {})["data"]["serverInfo"]["features"]}
    assert features["FILESTREAM_GZIP"] is True and features["LARGE_FILENAMES"] is True
    assert features["STRUCTURED_CONSOLE_LOGS"] is False and features["MARK_RUN_FILES_UPLOADED"] is False


def test_server_features_offer_update_run_state(served):
    """``UpdateRunState`` (R52) is served, so the feature W&B's clients and tests check before
    calling it (``UPDATE_RUN_STATE``) is enabled."""
    q = "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }"
    features = {f["name"]: f["isEnabled"] for f in gql(served, q, {})["data"]["serverInfo"]["features"]}
    assert features.get("UPDATE_RUN_STATE") is True


def test_create_project_with_a_bad_name_is_a_named_error_that_creates_nothing(served):
    q = """mutation CreateProject($input: UpsertModelInput!) { result: upsertModel(input: $input) {
      project { id name } inserted } }"""
    out = gql(served, q, {"input": {"entityName": "testent", "name": "a/b"}})
    assert "bad project name 'a/b'" in out["errors"][0]["message"]
    assert not served.model.has_project(None, "a/b")
    served.model.problems.clear()
    out = gql(served, q, {"input": {"entityName": "testent", "name": "ok"}})
    assert out["data"]["result"]["inserted"] is True


def test_delete_run_twice_succeeds(served):
    rec, _ = served.model.upsert_run(RunUpsert.from_variables({"name": "d", "project": "p", "host": "h"}))
    q = "mutation DeleteRun($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"
    for _ in range(2):
        assert gql(served, q, {"id": rec.storage_id}) == {"data": {"deleteRun": {"clientMutationId": None}}}
    assert "errors" in gql(served, q, {"id": "nope"})
    served.model.problems.clear()


def test_create_project_as_older_sdks_send_it(served):
    """wandb <= 0.19: ``mutation upsertModel`` with flat variables, answered as ``upsertModel``."""
    q = """mutation upsertModel($entityName: String, $name: String) {
      upsertModel(input: {entityName: $entityName, name: $name}) { project { id name } inserted } }"""
    out = gql(served, q, {"entityName": "testent", "name": "old-style"})
    assert out["data"]["upsertModel"]["inserted"] is True and served.model.has_project(None, "old-style")
