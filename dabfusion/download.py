"""A small, careful download manager: retries, resume, verification, atomic placement.

- Each file is fetched into ``{dest}.part``; a partial file is resumed with an HTTP Range
  request. A server that ignores Range (answers 200) restarts the file from zero.
- The result is checked against the expected size (from config, else Content-Length) and
  an optional SHA-256, and only then renamed to ``dest``: no half file is ever at ``dest``.
- Connection drops, truncated bodies, timeouts and 5xx/429 answers are retried with
  exponential backoff; 4xx answers (403, 404, ...) are final at once.
- ``download_many`` runs a bounded thread pool and returns a report of every file.

Archives are unpacked by ``safe_extract_zip``: no absolute paths, no ``..``, no links,
``__MACOSX`` and AppleDouble entries skipped, each member written atomically.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .io import file_sha256

log = logging.getLogger(__name__)
CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A file could not be fetched; the message names the URL and why."""

    def __init__(self, url: str, reason: str, permanent: bool = False):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.permanent = url, reason, permanent


@dataclass
class Fetch:
    url: str
    dest: Path
    size: int | None = None  # expected bytes, when known
    sha256: str | None = None


@dataclass
class Result:
    fetch: Fetch
    ok: bool
    attempts: int
    bytes: int = 0
    error: str = ""
    skipped: bool = False  # already present and verified


@dataclass
class Policy:
    retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    backoff_max: float = 60.0
    timeout: float = 60.0  # per socket operation
    user_agent: str = "dabfusion-downloader/0.1"
    sleep: callable = field(default=time.sleep, repr=False)


def _verify(path: Path, f: Fetch) -> str | None:
    """None if ``path`` matches what ``f`` expects, else the reason it does not."""
    n = path.stat().st_size
    if f.size is not None and n != f.size:
        return f"size {n} bytes, expected {f.size}"
    if f.sha256 is not None and file_sha256(path) != f.sha256.lower():
        return "SHA-256 mismatch"
    return None


def _attempt(f: Fetch, part: Path, policy: Policy, learned: dict) -> None:
    """One HTTP request; appends to ``part`` (resuming) or rewrites it. Raises on any problem.

    ``learned["total"]`` keeps the file size the server announced in an earlier attempt, so
    a later attempt cannot mistake a truncated part file for a whole one.
    """
    have = part.stat().st_size if part.exists() else 0
    known = f.size if f.size is not None else learned.get("total")
    if known is not None and have > known:
        part.unlink()
        have = 0
    headers = {"User-Agent": policy.user_agent}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(f.url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=policy.timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            total = _total_from_range(exc.headers.get("Content-Range", "") or "")
            if have and total is not None and have == total and known in (None, total):
                return  # the part file is already whole
            part.unlink(missing_ok=True)
            raise DownloadError(f.url, "range not satisfiable; restarting from zero") from exc
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DownloadError(f.url, f"HTTP {exc.code} {exc.reason}", permanent=permanent) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f.url, f"connection failed: {getattr(exc, 'reason', exc)}") from exc
    with resp:
        if resp.status == 206:
            crange = resp.headers.get("Content-Range", "")
            if not crange.startswith(f"bytes {have}-"):
                part.unlink(missing_ok=True)
                raise DownloadError(f.url, f"server resumed at the wrong offset ({crange!r})")
            mode, expected_total = "ab", _total_from_range(crange)
        else:  # 200: the server sent the whole file (it may have ignored our Range)
            mode, have = "wb", 0
            length = resp.headers.get("Content-Length")
            expected_total = int(length) if length is not None else None
        if f.size is not None and expected_total is not None and expected_total != f.size:
            raise DownloadError(
                f.url, f"server reports {expected_total} bytes, expected {f.size}", permanent=True
            )
        if expected_total is not None:
            learned["total"] = expected_total
        got = 0
        with open(part, mode) as out:
            try:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    got += len(block)
            except (OSError, ValueError) as exc:  # includes http.client.IncompleteRead
                raise DownloadError(f.url, f"connection dropped after {have + got} bytes: {exc}") from exc
        if expected_total is not None and have + got < expected_total:
            raise DownloadError(f.url, f"body truncated at {have + got} of {expected_total} bytes")


def _total_from_range(crange: str) -> int | None:
    total = crange.rsplit("/", 1)[-1]
    return int(total) if total.isdigit() else None


def fetch(f: Fetch, policy: Policy | None = None) -> Result:
    """Download one file with retries; never raises for network problems (see Result.error)."""
    policy = policy or Policy()
    dest = Path(f.dest)
    if dest.exists() and _verify(dest, f) is None:
        return Result(f, ok=True, attempts=0, bytes=dest.stat().st_size, skipped=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    delay, last, learned = policy.backoff, "", {}
    for attempt in range(1, policy.retries + 2):
        try:
            _attempt(f, part, policy, learned)
            bad = _verify(part, f if f.size is not None else Fetch(f.url, f.dest, learned.get("total"), f.sha256))
            if bad is None:
                os.replace(part, dest)
                return Result(f, ok=True, attempts=attempt, bytes=dest.stat().st_size)
            part.unlink(missing_ok=True)  # whole but wrong: never resume onto it
            last = f"downloaded file failed verification: {bad}"
        except DownloadError as exc:
            last = exc.reason
            if exc.permanent:
                return Result(f, ok=False, attempts=attempt, error=last)
        if attempt <= policy.retries:
            log.info("retrying %s in %.1f s (%s)", f.url, delay, last)
            policy.sleep(delay)
            delay = min(delay * 2, policy.backoff_max)
    return Result(f, ok=False, attempts=policy.retries + 1, error=last)


def download_many(fetches: list[Fetch], policy: Policy | None = None, parallel: int = 4,
                  progress: bool = True, desc: str = "download") -> list[Result]:
    """Fetch many files with at most ``parallel`` at once; one Result per Fetch, in order."""
    from tqdm import tqdm

    policy = policy or Policy()
    results: dict[int, Result] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool, \
            tqdm(total=len(fetches), desc=desc, unit="file", disable=not progress) as bar:
        futures = {pool.submit(fetch, f, policy): i for i, f in enumerate(fetches)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update()
    out = [results[i] for i in range(len(fetches))]
    failed = [r for r in out if not r.ok]
    log.info("%s: %d ok (%d already present), %d failed", desc, len(out) - len(failed),
             sum(r.skipped for r in out), len(failed))
    for r in failed:
        log.warning("failed: %s -> %s", r.fetch.url, r.error)
    return out


# --- archives ------------------------------------------------------------------------------
class UnsafeArchiveError(RuntimeError):
    pass


def _member_path(name: str) -> PurePosixPath | None:
    """The safe relative path of a zip member, None to skip it; raises if it is unsafe."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.parts and p.parts[0] == "__MACOSX" or p.name.startswith("._") or p.name == ".DS_Store":
        return None
    if p.is_absolute() or (p.parts and ":" in p.parts[0]) or ".." in p.parts:
        raise UnsafeArchiveError(f"unsafe path in archive: {name!r}")
    return p


def safe_extract_zip(archive: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract ``archive`` under ``dest``; returns the files written. Checks every member first."""
    archive, dest = Path(archive), Path(dest)
    written = []
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UnsafeArchiveError(
            f"{archive}: not a readable zip archive ({exc}); delete it and download again") from exc
    with zf:
        members = []
        for info in zf.infolist():
            rel = _member_path(info.filename)
            if rel is None or info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"{archive}: refusing symbolic link member {info.filename!r}")
            members.append((info, rel))
        for info, rel in members:
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.extracting")
            with zf.open(info) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(tmp, target)
            written.append(target)
    return written
