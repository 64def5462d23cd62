"""Fetch the real AIST++ into the raw layout the synthetic generator also writes.

Steps (one Snakemake rule each, see rules/data.smk):
  1. annotations: GitHub release archives (keypoints2d, cameras, splits, ...) + ignore_list.txt
  2. video list: the official list, or, when it is unavailable (it answered 403 in 2026),
     rebuilt from the annotation sequence names x cameras minus the two missing files;
     then cut to the configured subset
  3. videos: one URL per video, in parallel, resumable, verified
  4. music: the wav archive, else per-track mp3, else demuxed from a downloaded video
Every URL comes from config (``aistpp:`` section); none is written here.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from .aist import CAMERAS, MISSING_VIDEOS, VideoName
from .download import DownloadError, Fetch, Policy, download_many, fetch, safe_extract_zip
from .io import DataError, decode_audio, write_json_atomic, write_text_atomic, write_wav

log = logging.getLogger(__name__)


class TermsNotAccepted(RuntimeError):
    pass


def require_terms(acfg: dict) -> None:
    if acfg.get("accept_terms") is not True:
        raise TermsNotAccepted(
            "The AIST++ videos and music come from the AIST Dance Video Database, whose Terms of "
            f"Use must be accepted before downloading (read them at {acfg['terms_url']}; academic "
            "research use is allowed, redistribution is not). If you accept them, set "
            "'aistpp: {accept_terms: true}' in your config, e.g. "
            "snakemake --configfile presets/aistpp.yaml --config 'aistpp={accept_terms: true}' "
            "or edit presets/aistpp.yaml."
        )


def policy_of(acfg: dict) -> Policy:
    d = acfg["download"]
    return Policy(retries=d["retries"], backoff=d["backoff_seconds"], timeout=d["timeout_seconds"])


def _report(path: Path, results) -> dict:
    rows = [{"url": r.fetch.url, "dest": str(r.fetch.dest), "ok": r.ok, "attempts": r.attempts,
             "bytes": r.bytes, "skipped": r.skipped, "error": r.error} for r in results]
    summary = {"ok": sum(r.ok for r in results), "failed": sum(not r.ok for r in results), "files": rows}
    write_json_atomic(path, summary)
    return summary


def _fail_if(results, what: str, allowed: int = 0) -> None:
    failed = [r for r in results if not r.ok]
    if len(failed) > allowed:
        lines = "\n  ".join(f"{r.fetch.url}: {r.error}" for r in failed[:20])
        more = f"\n  ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        raise DownloadError(
            what, f"{len(failed)} file(s) failed (allowed: {allowed}):\n  {lines}{more}\n"
                  "Run the rule again to resume; partial files are kept as *.part."
        )


# --- 1. annotations ---------------------------------------------------------------------------
def fetch_annotations(acfg: dict, root: Path, report: Path) -> dict:
    """Download and unpack the configured annotation archives and ignore_list.txt."""
    root = Path(root)
    archives = root / ".download" / "archives"
    fetches = [Fetch(acfg["annotations_url"].format(name=f"{name}.zip"), archives / f"{name}.zip", size)
               for name, size in acfg["annotations"].items()]
    fetches.append(Fetch(acfg["annotations_url"].format(name="ignore_list.txt"), archives / "ignore_list.txt",
                         acfg["ignore_list_size"]))
    results = download_many(fetches, policy_of(acfg), acfg["download"]["parallel"], desc="annotations")
    summary = _report(report, results)
    _fail_if(results, "AIST++ annotations")
    for name in acfg["annotations"]:
        # archives hold either '{name}/...' members or bare files; both land in root/{name}/
        staging = root / ".download" / f"extract-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        files = safe_extract_zip(archives / f"{name}.zip", staging)
        top = staging / name if (staging / name).is_dir() else staging
        target = root / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(top), str(target))
        shutil.rmtree(staging, ignore_errors=True)
        log.info("unpacked %s.zip: %d files", name, len(files))
    lines = [ln.strip() for ln in (archives / "ignore_list.txt").read_text().splitlines() if ln.strip()]
    write_text_atomic(root / "ignore_list.txt", "".join(f"{ln}\n" for ln in lines))
    return summary


# --- 2. video list --------------------------------------------------------------------------
def sequences_from_annotations(root: Path) -> list[str]:
    """Sequence names (cAll) found in the split files and the keypoint files."""
    names = set()
    for txt in (Path(root) / "splits").glob("*.txt"):
        names |= {ln.strip() for ln in txt.read_text().splitlines() if ln.strip()}
    names |= {p.stem for p in (Path(root) / "keypoints2d").glob("*.pkl")}
    out = []
    for n in sorted(names):
        try:
            out.append(VideoName.parse(n).sequence)
        except ValueError:
            log.warning("ignoring a name that is not an AIST++ sequence: %r", n)
    return sorted(set(out))


def build_video_list(acfg: dict, root: Path) -> list[str]:
    """The official list, else the rebuilt one; then the configured subset. Writes video_list.txt."""
    root = Path(root)
    official = root / ".download" / "video_list_official.txt"
    res = fetch(Fetch(acfg["video_list_url"], official), policy_of(acfg))
    if res.ok:
        names = [ln.strip() for ln in official.read_text().splitlines() if ln.strip()]
        source = "official list"
    else:
        log.warning("official video list unavailable (%s); rebuilding it from the annotations", res.error)
        seqs = sequences_from_annotations(root)
        if not seqs:
            raise DataError(f"{root}/splits: no sequence names to rebuild the video list from; "
                            "fetch the annotations first (rule download_annotations)")
        names = [str(VideoName.parse(s).with_camera(c)) for s in seqs for c in CAMERAS]
        names = [n for n in names if n not in MISSING_VIDEOS]
        source = "rebuilt from annotations"
    sub = acfg["subset"]
    chosen = []
    for n in names:
        v = VideoName.parse(n)
        if v.camera in sub["cameras"] and v.genre in sub["genres"] and v.situation in sub["situations"]:
            chosen.append(n)
    chosen.sort()
    if sub["max_videos"] is not None:
        chosen = chosen[: sub["max_videos"]]
    log.info("video list: %d names (%s), %d in the configured subset", len(names), source, len(chosen))
    write_text_atomic(root / "video_list.txt", "".join(f"{n}\n" for n in chosen))
    return chosen


# --- 3. videos ------------------------------------------------------------------------------
def fetch_videos(acfg: dict, root: Path, report: Path) -> dict:
    root = Path(root)
    names = (root / "video_list.txt").read_text().split()
    fetches = [Fetch(acfg["video_url"].format(name=n), root / "videos" / f"{n}.mp4") for n in names]
    results = download_many(fetches, policy_of(acfg), acfg["download"]["parallel"], desc="videos")
    summary = _report(report, results)
    _fail_if(results, "AIST++ videos", acfg["download"]["max_failed_videos"])
    return summary


# --- 4. music -------------------------------------------------------------------------------
def fetch_music(acfg: dict, root: Path, report: Path) -> dict:
    """Every music id of the listed videos as music/{id}.wav, by the first route that works."""
    root = Path(root)
    names = [VideoName.parse(n) for n in (root / "video_list.txt").read_text().split()]
    needed = sorted({n.music_id for n in names})
    music_dir = root / "music"
    music_dir.mkdir(parents=True, exist_ok=True)
    routes: dict[str, str] = {m: "present" for m in needed if (music_dir / f"{m}.wav").exists()}
    policy = policy_of(acfg)
    missing = [m for m in needed if m not in routes]
    if missing and acfg["music_archive_url"]:
        archive = root / ".download" / "archives" / "music.zip"
        res = fetch(Fetch(acfg["music_archive_url"], archive, acfg["music_archive_size"]), policy)
        if res.ok:
            staging = root / ".download" / "extract-music"
            shutil.rmtree(staging, ignore_errors=True)
            for f in safe_extract_zip(archive, staging):
                if f.suffix.lower() == ".wav" and f.stem in missing:
                    shutil.move(str(f), str(music_dir / f"{f.stem}.wav"))
                    routes[f.stem] = "archive"
            shutil.rmtree(staging, ignore_errors=True)
        else:
            log.warning("music archive unavailable (%s); trying per-track files", res.error)
    missing = [m for m in needed if m not in routes]
    if missing and acfg["music_track_url"]:
        fetches = [Fetch(acfg["music_track_url"].format(music_id=m), root / ".download" / "mp3" / f"{m}.mp3")
                   for m in missing]
        for r in download_many(fetches, policy, acfg["download"]["parallel"], desc="music tracks"):
            if r.ok:
                m = r.fetch.dest.stem
                samples, sr = decode_audio(r.fetch.dest)
                write_wav(music_dir / f"{m}.wav", samples, sr)
                routes[m] = "track"
    for m in [m for m in needed if m not in routes]:
        # demux: every refined AIST++ video carries its music as the audio track
        for n in names:
            video = root / "videos" / f"{n}.mp4"
            if n.music_id == m and video.exists():
                samples, sr = decode_audio(video)
                write_wav(music_dir / f"{m}.wav", samples, sr)
                routes[m] = f"demuxed from {video.name}"
                break
    summary = {"routes": routes, "missing": [m for m in needed if m not in routes]}
    write_json_atomic(report, summary)
    if summary["missing"]:
        raise DataError(f"music not available for {', '.join(summary['missing'])}: the archive, the "
                        "per-track URL and every video of that music failed; see the log above")
    return summary


def write_manifest(acfg: dict, root: Path) -> dict:
    root = Path(root)
    videos = (root / "video_list.txt").read_text().split()
    present = [v for v in videos if (root / "videos" / f"{v}.mp4").exists()]
    manifest = {
        "source": "aistpp",
        "n_videos": len(present),
        "n_listed": len(videos),
        "n_music": len(list((root / "music").glob("*.wav"))),
        "subset": acfg["subset"],
        "note": "Real AIST++ (AIST Dance Video Database videos and music; AIST++ annotations, CC BY 4.0).",
    }
    if len(present) < len(videos):  # within max_failed_videos; extraction lists them as rejects
        manifest["failed_videos"] = sorted(set(videos) - set(present))
    write_json_atomic(root / "manifest.json", manifest)
    return manifest


def load_report(path: Path) -> dict:
    return json.loads(Path(path).read_text())
