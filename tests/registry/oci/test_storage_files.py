"""The blob store and upload sessions on a real filesystem: atomic commits, rollbacks, restarts."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from registry.oci.blobstore import BlobStore
from registry.oci.digests import Digest
from registry.oci.uploads import (
    FLUSH_BYTES,
    UploadBroken,
    UploadDigestMismatch,
    UploadSizeMismatch,
    UploadStore,
)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _breaks_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise ConnectionResetError("client went away")


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "oci")


class TestBlobStore:
    def test_content_lands_under_its_digest_and_nowhere_else(self, store: BlobStore) -> None:
        digest = Digest.of(b"hello")
        store.put_bytes(digest, b"hello")
        path = store.path_for(digest)
        assert path == store.blobs / "sha256" / digest.hex[:2] / digest.hex
        assert path.read_bytes() == b"hello"
        assert store.size(digest) == 5
        assert list(store.tmp.iterdir()) == []

    def test_adopting_content_already_stored_drops_the_duplicate(self, store: BlobStore) -> None:
        digest = Digest.of(b"same")
        store.put_bytes(digest, b"same")
        dup = store.temp_path()
        dup.write_bytes(b"same")
        store.adopt(dup, digest)
        assert not dup.exists()
        assert store.read(digest) == b"same"

    def test_leftover_scratch_files_are_cleaned_at_start(self, store: BlobStore) -> None:
        store.temp_path().write_bytes(b"partial")
        store.clean_tmp()
        assert list(store.tmp.iterdir()) == []


class TestUploadSessions:
    async def test_a_chunked_upload_commits_to_the_blob_store(self, store: BlobStore) -> None:
        uploads = UploadStore(store)
        session = uploads.create("org/repo")
        await uploads.append(session, _chunks(b"abc", b"def"), expected_length=6)
        await uploads.append(session, _chunks(b"g" * (FLUSH_BYTES + 5)))
        data = b"abcdef" + b"g" * (FLUSH_BYTES + 5)
        assert session.size == len(data)
        assert await uploads.commit(session, Digest.of(data)) == len(data)
        assert store.read(Digest.of(data)) == data
        assert uploads.get(session.uuid) is None

    async def test_a_session_survives_a_restart_and_is_rehashed_from_disk(
        self, store: BlobStore
    ) -> None:
        session = UploadStore(store).create("org/repo")
        await UploadStore(store).append(session, _chunks(b"part one "))
        restarted = UploadStore(BlobStore(store.root))
        again = restarted.get(session.uuid)
        assert again is not None
        assert (again.repository, again.size) == ("org/repo", 9)
        await restarted.append(again, _chunks(b"part two"))
        digest = Digest.of(b"part one part two")
        assert await restarted.commit(again, digest) == 17

    async def test_a_sha512_digest_is_checked_with_sha512(self, store: BlobStore) -> None:
        uploads = UploadStore(store)
        session = uploads.create("o/r")
        await uploads.append(session, _chunks(b"x" * 100))
        digest = Digest("sha512", hashlib.sha512(b"x" * 100).hexdigest())
        assert await uploads.commit(session, digest) == 100
        assert store.size(digest) == 100

    async def test_a_body_that_breaks_off_is_rolled_back(self, store: BlobStore) -> None:
        uploads = UploadStore(store)
        session = uploads.create("o/r")
        await uploads.append(session, _chunks(b"kept"))
        with pytest.raises(UploadBroken):
            await uploads.append(session, _breaks_after(b"lost" * FLUSH_BYTES))
        reread = uploads.get(session.uuid)
        assert reread is not None and reread.size == 4
        assert await uploads.commit(reread, Digest.of(b"kept")) == 4

    async def test_a_body_shorter_than_its_length_is_rolled_back(self, store: BlobStore) -> None:
        uploads = UploadStore(store)
        session = uploads.create("o/r")
        with pytest.raises(UploadSizeMismatch):
            await uploads.append(session, _chunks(b"short"), expected_length=10)
        assert session.size == 0
        assert (store.uploads / session.uuid / "data").stat().st_size == 0

    async def test_a_wrong_digest_leaves_no_blob_and_no_session(self, store: BlobStore) -> None:
        uploads = UploadStore(store)
        session = uploads.create("o/r")
        await uploads.append(session, _chunks(b"content"))
        wrong = Digest.of(b"other")
        with pytest.raises(UploadDigestMismatch):
            await uploads.commit(session, wrong)
        assert store.size(wrong) is None
        assert store.size(Digest.of(b"content")) is None
        assert list(store.uploads.iterdir()) == []

    @pytest.mark.parametrize("upload_id", ["../../etc", "nope", "", "A" * 36])
    def test_a_malformed_session_id_is_unknown(self, store: BlobStore, upload_id: str) -> None:
        assert UploadStore(store).get(upload_id) is None


class TestSessionExpiry:
    async def test_sessions_older_than_the_limit_are_purged_and_newer_ones_kept(
        self, store: BlobStore
    ) -> None:
        uploads = UploadStore(store)
        old, new = uploads.create("o/r"), uploads.create("o/r")
        meta = store.uploads / old.uuid / "session.json"
        meta.write_text(json.dumps({"repository": "o/r", "started": time.time() - 3600}))
        assert uploads.purge_older_than(600) == 1
        assert uploads.get(old.uuid) is None
        assert uploads.get(new.uuid) is not None
