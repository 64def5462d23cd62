"""The download manager against a real HTTP server on loopback, with injected faults."""

import hashlib
import io
import os
import stat
import zipfile

import pytest

from dabfusion.download import Fetch, Policy, UnsafeArchiveError, download_many, fetch, safe_extract_zip

from .loopback import Fault, LoopbackServer

PAYLOAD = os.urandom(300_000)
FAST = Policy(retries=3, backoff=0.0, timeout=5.0, sleep=lambda s: None)


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        srv.files["/f.bin"] = PAYLOAD
        yield srv


def _leftovers(dest):
    return [p.name for p in dest.parent.iterdir() if p != dest]


def test_plain_download_is_verified_and_placed(server, tmp_path):
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD),
                    sha256=hashlib.sha256(PAYLOAD).hexdigest()), FAST)
    assert r.ok and r.attempts == 1 and dest.read_bytes() == PAYLOAD and _leftovers(dest) == []
    again = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD)), FAST)
    assert again.ok and again.skipped and len(server.log) == 1  # present and verified: no request


def test_server_errors_are_retried(server, tmp_path):
    server.faults["/f.bin"] = Fault(statuses=[500, 503])
    r = fetch(Fetch(f"{server.url}/f.bin", tmp_path / "f.bin", size=len(PAYLOAD)), FAST)
    assert r.ok and r.attempts == 3


def test_dropped_connections_resume_with_range(server, tmp_path):
    server.faults["/f.bin"] = Fault(drop_after=100_000, drop_times=2)
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD)), FAST)
    assert r.ok and r.attempts == 3 and dest.read_bytes() == PAYLOAD
    ranges = [rng for _, rng in server.log]
    assert ranges == [None, "bytes=100000-", "bytes=200000-"]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.faults["/f.bin"] = Fault(drop_after=120_000, drop_times=1, ignore_range=True)
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD)), FAST)
    assert r.ok and r.attempts == 2 and dest.read_bytes() == PAYLOAD
    assert server.log[1][1] == "bytes=120000-"  # it asked to resume, got the whole file, coped


def test_truncated_file_never_lands(server, tmp_path):
    """The server's copy itself is short (a truncated upload): every attempt fails verification."""
    server.files["/f.bin"] = PAYLOAD[:250_000]
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD)), FAST)
    assert not r.ok and "250000" in r.error and str(len(PAYLOAD)) in r.error
    assert not dest.exists()


def test_body_shorter_than_announced_is_retried(server, tmp_path):
    server.faults["/f.bin"] = Fault(body=PAYLOAD[:1000], content_length=len(PAYLOAD))
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest), FAST)
    # the first attempt learns the size from Content-Length; no later attempt may take the
    # 1000-byte part file for the whole file
    assert not r.ok and r.attempts == FAST.retries + 1
    assert not dest.exists()


def test_wrong_size_fails_at_once(server, tmp_path):
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, size=len(PAYLOAD) + 5), FAST)
    assert not r.ok and r.attempts == 1 and "expected" in r.error and not dest.exists()


def test_forbidden_is_final_and_clear(server, tmp_path):
    server.faults["/f.bin"] = Fault(statuses=[403] * 10)
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest), FAST)
    assert not r.ok and r.attempts == 1 and "403" in r.error and not dest.exists()


def test_checksum_mismatch_never_lands(server, tmp_path):
    dest = tmp_path / "f.bin"
    r = fetch(Fetch(f"{server.url}/f.bin", dest, sha256="0" * 64), FAST)
    assert not r.ok and "SHA-256" in r.error and not dest.exists()


def test_unreachable_host_is_reported(tmp_path):
    r = fetch(Fetch("http://127.0.0.1:9/nothing", tmp_path / "x"), FAST)
    assert not r.ok and "connection failed" in r.error


def test_parallel_downloads_are_bounded_and_reported(server, tmp_path):
    for i in range(12):
        server.files[f"/v{i}.bin"] = PAYLOAD[: 1000 + i]
        server.faults[f"/v{i}.bin"] = Fault(delay=0.05)
    server.faults["/v3.bin"] = Fault(statuses=[404] * 10)
    fetches = [Fetch(f"{server.url}/v{i}.bin", tmp_path / f"v{i}.bin") for i in range(12)]
    results = download_many(fetches, FAST, parallel=3, progress=False)
    assert server.max_active <= 3
    assert [r.ok for r in results] == [i != 3 for i in range(12)]
    assert "404" in results[3].error
    assert all((tmp_path / f"v{i}.bin").stat().st_size == 1000 + i for i in range(12) if i != 3)


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_safe_extract_skips_macos_junk(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"splits/a.txt": b"x", "__MACOSX/splits/._a.txt": b"junk", "splits/._b.txt": b"junk"}))
    written = safe_extract_zip(archive, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == ["splits/a.txt"]
    assert not (tmp_path / "out/__MACOSX").exists()


@pytest.mark.parametrize("bad", ["../evil.txt", "ok/../../evil.txt", "/abs/evil.txt", "C:/evil.txt"])
def test_safe_extract_refuses_path_traversal(tmp_path, bad):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"good.txt": b"fine", bad: b"evil"}))
    with pytest.raises(UnsafeArchiveError, match="unsafe path"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


def test_safe_extract_refuses_links_and_garbage(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"a.txt": b"x"}, links=("link",)))
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        safe_extract_zip(archive, tmp_path / "out")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(UnsafeArchiveError, match="junk.zip"):
        safe_extract_zip(junk, tmp_path / "out2")
