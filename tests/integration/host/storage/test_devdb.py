"""The embedded development database: version handshake, write semantics, persistence, clean exit."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from bson import ObjectId
from pymongo import MongoClient, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from host.settings import Environment
from host.storage.devdb import DevDatabase, DevDatabaseError
from tests.support.paths import ROOT
from tests.support.waiting import eventually_sync

Client = MongoClient[dict[str, object]]


def _connect(url: str) -> Client:
    return MongoClient(url, serverSelectionTimeoutMS=5000)


def _is_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs; a zombie left to an init that does not reap counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture(scope="module")
def memory_db() -> Iterator[DevDatabase]:
    with DevDatabase() as db:
        yield db


@pytest.fixture
def client(memory_db: DevDatabase) -> Iterator[Client]:
    with _connect(memory_db.url) as mongo:
        yield mongo


def test_reports_mongodb_6_with_wire_version_17(client: Client) -> None:
    assert str(client.server_info()["version"]).startswith("6.0")
    # server_info() is buildInfo, which has no wire version; the handshake reply carries it.
    assert client.admin.command("isMaster")["maxWireVersion"] == 17


def test_lookups_through_a_unique_index_find_exactly_what_matches(client: Client) -> None:
    # the launcher answers a query on one uniquely indexed field without matching each document
    # again: what it finds must still be what MongoDB's matching finds
    users = client.devdb_test.users_lookup
    users.create_index("uid", unique=True)
    users.insert_many(
        [
            {"_id": "a", "uid": "ua", "n": 1},
            {"_id": "b", "uid": ["ub", "ub2"], "n": 2},  # a multikey entry: matches either value
            {"_id": 3, "uid": 3, "n": 3},
            {"_id": "c", "n": 4},  # no uid at all
        ]
    )

    def ids(query: dict[str, object]) -> list[object]:
        return sorted((doc["_id"] for doc in users.find(query)), key=str)

    assert ids({"_id": {"$in": ["a", "a", "nope", "b"]}}) == ["a", "b"]
    assert ids({"_id": "b"}) == ["b"]
    assert ids({"_id": "nope"}) == []
    assert ids({"uid": {"$in": ["ua", "ub2", "zz"]}}) == ["a", "b"]
    assert ids({"uid": "ub"}) == ["b"]
    # not plain values: answered by matching, as before (3.0 equals 3; null matches a missing field)
    assert ids({"uid": 3.0}) == [3]
    assert ids({"uid": None}) == ["c"]
    assert ids({"_id": {"$in": ["a", 3.0]}}) == [3, "a"]
    # an update by _id changes that document only, and is found again by the new value
    users.update_one({"_id": "a"}, {"$set": {"uid": "ua-new"}})
    assert ids({"uid": "ua"}) == []
    assert ids({"uid": "ua-new"}) == ["a"]
    assert users.find_one({"_id": "a"}, {"_id": 0}) == {"uid": "ua-new", "n": 1}


def test_updates_by_id_change_what_mongodb_changes(client: Client) -> None:
    # the launcher applies a $set/$inc by _id in place: the answers must be the stock server's
    docs = client.devdb_test.updates_in_place
    docs.create_index("code", unique=True)
    docs.insert_many([{"_id": "a", "n": 1, "code": "A", "s": "x"}, {"_id": "b", "n": 2, "code": "B"}])

    moved = docs.update_one(
        {"_id": "a"}, {"$set": {"s": "y", "new": {"k": [1, 2]}}, "$inc": {"n": 2, "m": 5}}
    )
    assert (moved.matched_count, moved.modified_count) == (1, 1)
    assert docs.find_one({"_id": "a"}) == {
        "_id": "a",
        "n": 3,
        "code": "A",
        "s": "y",
        "new": {"k": [1, 2]},
        "m": 5,
    }
    assert list(docs.find_one({"_id": "a"}) or {}) == ["_id", "n", "code", "s", "new", "m"]  # key order
    same = docs.update_one({"_id": "a"}, {"$set": {"s": "y", "n": 3.0}})  # equal values: not modified
    assert (same.matched_count, same.modified_count) == (1, 0)
    floated = docs.update_one({"_id": "b"}, {"$inc": {"n": 0.5}})
    assert floated.modified_count == 1
    assert (docs.find_one({"_id": "b"}) or {})["n"] == 2.5
    nothing = docs.update_one({"_id": "zz"}, {"$set": {"s": "z"}})
    assert (nothing.matched_count, nothing.modified_count) == (0, 0)
    upserted = docs.update_one({"_id": "c"}, {"$set": {"s": "c"}}, upsert=True)
    assert upserted.upserted_id == "c"
    assert docs.find_one({"_id": "c"}) == {"_id": "c", "s": "c"}
    # what the stock path refuses is still refused
    with pytest.raises(OperationFailure):
        docs.update_one({"_id": "a"}, {"$inc": {"s": 1}})  # not a number
    with pytest.raises(DuplicateKeyError):
        docs.update_one({"_id": "a"}, {"$set": {"code": "B"}})  # a uniquely indexed field
    assert (docs.find_one({"_id": "a"}) or {})["code"] == "A"
    with pytest.raises(OperationFailure):
        docs.update_one({"_id": "a"}, {"$set": {"n": 1}, "$inc": {"n": 1}})  # a conflict
    # a bulk of them, as the workers write results
    result = docs.bulk_write(
        [UpdateOne({"_id": key}, {"$set": {"status": "sent"}, "$inc": {"tries": 1}}) for key in "abc"],
        ordered=False,
    )
    assert (result.matched_count, result.modified_count) == (3, 3)
    assert sorted(doc["tries"] for doc in docs.find({"status": "sent"})) == [1, 1, 1]


def test_sorts_on_one_field_order_as_mongodb_does(client: Client) -> None:
    # the launcher compares two strings itself when sorting on one field: other types keep their
    # order (null and missing first, then numbers, then strings)
    docs = client.devdb_test.sorted_by_one_field
    values: list[object] = ["b", "a", "C", 2, None, "ab", 10, "é"]
    docs.insert_many([{"_id": i, "k": value} for i, value in enumerate(values)] + [{"_id": 99}])

    def order(direction: int) -> list[object]:
        return [doc.get("k", "<missing>") for doc in docs.find({}, {"_id": 0}).sort("k", direction)]

    assert order(1) == [None, "<missing>", 2, 10, "C", "a", "ab", "b", "é"]
    assert order(-1) == ["é", "b", "ab", "a", "C", 10, 2, None, "<missing>"]
    assert [doc["k"] for doc in docs.find({"k": {"$type": "string"}}).sort("k", 1).limit(2)] == ["C", "a"]


def test_a_cluster_read_matches_sorts_and_projects_as_mongodb_does(client: Client) -> None:
    # the launcher answers a plain $in on one field by a set lookup, sorts on one field by keys read
    # once and projects a batch when it is sent: the fan-out's read of a cluster
    users = client.devdb_test.cluster_read
    marker = ObjectId()
    groups: list[object] = [
        ["a", "b"],
        "a",  # a single value, not an array
        ["b"],
        [["a"], "z"],  # an array inside: the stock server's $in looks into it (MongoDB does not)
        None,  # no field at all
        [marker],
        ["a", marker],
        [],
        3,
        ["a"],
    ]
    users.insert_many(
        [
            {"_id": i, "uid": f"u{9 - i}", "n": i, **({} if value is None else {"g": value})}
            for i, value in enumerate(groups)
        ]
    )

    def read(query: dict[str, object], direction: int = 1, **options: int) -> list[object]:
        found = users.find(query, {"_id": 0, "n": 1}, batch_size=options.get("batch", 2))
        found = found.sort("uid", direction).skip(options.get("skip", 0)).limit(options.get("limit", 0))
        return [doc["n"] for doc in found]  # the projection left n alone

    assert read({"g": {"$in": ["a"]}}) == [9, 6, 3, 1, 0]
    assert read({"g": "a"}, -1) == [0, 1, 6, 9]  # its equality does not
    assert read({"g": {"$in": ["a", marker]}}, batch=1) == [9, 6, 5, 3, 1, 0]
    assert read({"g": {"$in": [marker, "b"]}}, skip=1, limit=2) == [5, 2]
    assert read({"g": {"$in": ["nobody"]}}) == []
    unsorted = users.find({"g": {"$in": ["a"]}}, {"_id": 0, "n": 1}).skip(1).limit(2)
    assert [doc["n"] for doc in unsorted] == [1, 3]  # in insertion order, as stored
    assert read({"g": {"$in": [3.0]}}) == [8]  # not plain: the stock matcher (3.0 equals 3)
    with_uid_mixed = client.devdb_test.cluster_read_mixed
    with_uid_mixed.insert_many(
        [{"_id": 1, "uid": "b", "g": "a"}, {"_id": 2, "uid": 7, "g": "a"}, {"_id": 3, "g": "a"}]
    )
    # a key that is not a string everywhere: the stock order (missing, numbers, strings)
    assert [d["_id"] for d in with_uid_mixed.find({"g": "a"}, batch_size=1).sort("uid", 1)] == [3, 2, 1]


def test_unique_index_rejects_a_duplicate(client: Client) -> None:
    users = client.devdb_test.users_unique
    users.create_index("email", unique=True)
    users.insert_one({"email": "a@example.com"})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"email": "a@example.com"})


def test_unordered_insert_many_reports_each_duplicate(client: Client) -> None:
    claims = client.devdb_test.claims
    claims.insert_many([{"_id": "d1:1"}, {"_id": "d2:1"}])
    batch: list[dict[str, object]] = [{"_id": f"d{n}:1"} for n in range(1, 6)]
    with pytest.raises(BulkWriteError) as caught:
        claims.insert_many(batch, ordered=False)
    details = caught.value.details
    # Claims are read from writeErrors: mongo-java-server counts nInserted as the documents sent (5),
    # where MongoDB counts those written (3).
    assert sorted(error["index"] for error in details["writeErrors"]) == [0, 1]
    assert {error["code"] for error in details["writeErrors"]} == {11000}
    assert claims.count_documents({}) == 5


def test_h2_file_keeps_documents_across_restart(tmp_path: Path) -> None:
    data_file = tmp_path / "dev.h2"
    with DevDatabase(data_file=data_file) as db, _connect(db.url) as mongo:
        mongo.devdb_test.notes.insert_one({"_id": 1, "text": "kept"})
    with DevDatabase(data_file=data_file) as db, _connect(db.url) as mongo:
        assert mongo.devdb_test.notes.find_one({"_id": 1}) == {"_id": 1, "text": "kept"}


def test_the_data_is_private_to_its_user(tmp_path: Path) -> None:
    """Session ids and password hashes live in the H2 file: 0600, in a 0700 directory."""
    data = Environment(data_dir=str(tmp_path / "data")).data_path()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)  # made before this version (or by hand): tightened on first use
    assert stat.S_IMODE(Environment(data_dir=str(loose)).data_path().stat().st_mode) == 0o700
    old = loose / "devdb"
    old.write_bytes(b"")
    old.chmod(0o644)  # a file an earlier version left readable
    for data_file in (data / "devdb", tmp_path / "new-folder" / "devdb", old):
        with DevDatabase(data_file=data_file) as db, _connect(db.url) as mongo:
            mongo.devdb_test.sessions.insert_one({"_id": "s1", "data": b"secret"})
        files = {path: stat.S_IMODE(path.stat().st_mode) for path in data_file.parent.iterdir()}
        assert files and all(mode == 0o600 for mode in files.values()), files
        assert stat.S_IMODE(data_file.parent.stat().st_mode) == 0o700


def test_stop_leaves_no_java_process_and_can_repeat() -> None:
    db = DevDatabase()
    db.start()
    pid = db.pid
    assert pid is not None
    db.stop()
    assert _is_gone(pid)
    db.stop()
    assert db.pid is None
    with pytest.raises(DevDatabaseError):
        _ = db.url


def test_taken_port_fails_fast_with_the_java_error(memory_db: DevDatabase) -> None:
    clash = DevDatabase(port=memory_db.port)
    with pytest.raises(DevDatabaseError, match="BindException"):
        clash.start()
    assert clash.pid is None


def test_killed_parent_leaves_no_orphan() -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from host.storage.devdb import DevDatabase
        db = DevDatabase()
        db.start()
        print(db.pid, flush=True)
        time.sleep(60)
        """
    )
    project_root = ROOT
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=project_root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        java_pid = int(parent.stdout.readline())
        assert not _is_gone(java_pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    # fails naming the java process that outlived its killed parent
    eventually_sync(
        lambda: _is_gone(java_pid), timeout=10, what=f"java process {java_pid} to end with its parent"
    )
