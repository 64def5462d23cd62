"""The AIST++ download rules, run for real against a loopback server that serves a small
AIST++ built from the synthetic generator, with faults injected along the way."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dabfusion import aistpp
from dabfusion.config import validate_config
from dabfusion.io import read_wav

from .conftest import ROOT, TEST_SYNTH
from .loopback import Fault, LoopbackServer


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _serve_aistpp(srv: LoopbackServer, synth: Path) -> dict:
    """Publish ``synth`` the way AIST++ is published; returns the matching aistpp config."""
    kp = {f"keypoints2d/{p.name}": p.read_bytes() for p in (synth / "keypoints2d").glob("*.pkl")}
    kp["__MACOSX/keypoints2d/._junk.pkl"] = b"resource fork"
    cams = {f"cameras/{p.name}": p.read_bytes() for p in (synth / "cameras").iterdir()}
    splits = {p.name: p.read_bytes() for p in (synth / "splits").glob("*.txt")}  # no folder prefix
    archives = {"keypoints2d": _zip(kp), "cameras": _zip(cams), "splits": _zip(splits)}
    for name, blob in archives.items():
        srv.files[f"/rel/{name}.zip"] = blob
    ignore = (synth / "ignore_list.txt").read_text().splitlines()
    # trailing spaces, as AIST++
    srv.files["/rel/ignore_list.txt"] = ("\n".join(f"{n} " for n in ignore) + "\n").encode()
    srv.files["/list/video_list.txt"] = b"forbidden"
    srv.faults["/list/video_list.txt"] = Fault(statuses=[403] * 100)
    for v in (synth / "videos").glob("*.mp4"):
        srv.files[f"/video/{v.name}"] = v.read_bytes()
    srv.files["/audio/wav.zip"] = _zip({f"wav/{w.name}": w.read_bytes() for w in (synth / "music").glob("*.wav")})
    return validate_config({"source": "aistpp", "aistpp": {
        "accept_terms": True,
        "annotations_url": srv.url + "/rel/{name}",
        "annotations": {k: len(v) for k, v in archives.items()},
        "ignore_list_size": len(srv.files["/rel/ignore_list.txt"]),
        "video_list_url": srv.url + "/list/video_list.txt",
        "video_url": srv.url + "/video/{name}.mp4",
        "music_archive_url": srv.url + "/audio/wav.zip",
        "music_track_url": srv.url + "/audio/mp3/{music_id}.mp3",
        "subset": {"cameras": TEST_SYNTH["cameras"]},
        "download": {"parallel": 3, "retries": 3, "backoff_seconds": 0, "timeout_seconds": 5},
    }})["aistpp"]


def test_terms_must_be_accepted():
    acfg = validate_config({"source": "aistpp"})["aistpp"]
    with pytest.raises(aistpp.TermsNotAccepted, match="accept_terms: true") as err:
        aistpp.require_terms(acfg)
    assert acfg["terms_url"] in str(err.value)


def test_download_reproduces_the_raw_layout(tmp_path, synth_root):
    with LoopbackServer() as srv:
        acfg = _serve_aistpp(srv, synth_root)
        videos = sorted((synth_root / "videos").glob("*.mp4"))
        srv.faults[f"/video/{videos[0].name}"] = Fault(drop_after=5000, drop_times=2)
        srv.faults[f"/video/{videos[1].name}"] = Fault(statuses=[500])
        srv.faults[f"/video/{videos[2].name}"] = Fault(drop_after=3000, drop_times=1, ignore_range=True)
        root = tmp_path / "aistpp"
        aistpp.fetch_annotations(acfg, root, root / ".download/annotations.json")
        names = aistpp.build_video_list(acfg, root)
        aistpp.fetch_videos(acfg, root, root / ".download/videos.json")
        music = aistpp.fetch_music(acfg, root, root / ".download/music.json")
        manifest = aistpp.write_manifest(acfg, root)
    # the list was rebuilt from the annotations (the official one answered 403)
    assert names == sorted((synth_root / "video_list.txt").read_text().split())
    assert manifest["n_videos"] == len(names) and "failed_videos" not in manifest
    for v in videos:
        assert (root / "videos" / v.name).read_bytes() == v.read_bytes()
    for p in (synth_root / "keypoints2d").glob("*.pkl"):
        assert (root / "keypoints2d" / p.name).read_bytes() == p.read_bytes()
    assert (sorted(p.name for p in (root / "splits").iterdir())
            == sorted(p.name for p in (synth_root / "splits").iterdir()))
    assert not (root / "__MACOSX").exists() and not (root / "keypoints2d/._junk.pkl").exists()
    assert (root / "ignore_list.txt").read_text() == (synth_root / "ignore_list.txt").read_text()
    assert set(music["routes"].values()) == {"archive"}
    assert not list(root.rglob("*.part")) and not list((root / "videos").glob(".*"))


def test_missing_music_is_demuxed_from_a_video(tmp_path, synth_root):
    with LoopbackServer() as srv:
        acfg = _serve_aistpp(srv, synth_root)
        del srv.files["/audio/wav.zip"]  # no archive, no per-track files: 404 for both
        root = tmp_path / "aistpp"
        aistpp.fetch_annotations(acfg, root, root / ".download/annotations.json")
        aistpp.build_video_list(acfg, root)
        aistpp.fetch_videos(acfg, root, root / ".download/videos.json")
        music = aistpp.fetch_music(acfg, root, root / ".download/music.json")
    assert all(r.startswith("demuxed from") for r in music["routes"].values())
    got, sr = read_wav(root / "music/mBR0.wav")
    want, sr0 = read_wav(synth_root / "music/mBR0.wav")
    assert sr == sr0
    n = min(len(got), len(want))
    assert n > sr * 3 and pytest.approx(1.0, abs=0.1) == float((got[:n] @ want[:n]) / (want[:n] @ want[:n]))


def test_failed_videos_fail_the_rule_by_name(tmp_path, synth_root):
    with LoopbackServer() as srv:
        acfg = _serve_aistpp(srv, synth_root)
        broken = sorted((synth_root / "videos").glob("*.mp4"))[4].name
        srv.faults[f"/video/{broken}"] = Fault(statuses=[503] * 100)
        root = tmp_path / "aistpp"
        aistpp.fetch_annotations(acfg, root, root / ".download/annotations.json")
        aistpp.build_video_list(acfg, root)
        with pytest.raises(aistpp.DownloadError, match=broken.replace(".mp4", "")):
            aistpp.fetch_videos(acfg, root, root / ".download/videos.json")
        assert not (root / "videos" / broken).exists()
        # tolerated when config allows it: the manifest lists it, extraction rejects it
        acfg["download"]["max_failed_videos"] = 1
        aistpp.fetch_videos(acfg, root, root / ".download/videos.json")
        aistpp.fetch_music(acfg, root, root / ".download/music.json")
        manifest = aistpp.write_manifest(acfg, root)
    assert manifest["failed_videos"] == [broken.replace(".mp4", "")]


@pytest.mark.slow
def test_snakemake_aistpp_rules_end_to_end(tmp_path, synth_root):
    """The aistpp preset's rules, from download to the clip index, against the loopback server."""
    with LoopbackServer() as srv:
        acfg = _serve_aistpp(srv, synth_root)
        cfg = {"source": "aistpp", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
               "aistpp": acfg, "extract": {"on_bad_video": "skip", "size": 32, "fps": 10}}
        cfg_file = tmp_path / "cfg.yaml"
        cfg_file.write_text(yaml.safe_dump(cfg))
        res = subprocess.run([sys.executable, "-m", "snakemake", f"{tmp_path}/data/processed/clips_n16.parquet",
                              "--cores", "2", "--configfile", str(cfg_file)],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    clips = pd.read_parquet(tmp_path / "data/processed/clips_n16.parquet")
    assert len(clips) > 0 and set(clips.camera) == set(TEST_SYNTH["cameras"])
    assert (tmp_path / "results/logs/download_videos.log").read_text().count("videos: ") >= 1


def test_snakemake_stops_without_accepted_terms(tmp_path):
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "presets/aistpp.yaml",
                          "--config", f"data_dir={tmp_path}/data", f"results_dir={tmp_path}/results"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "accept_terms: true" in res.stdout + res.stderr
    assert not (tmp_path / "data/videos").exists()
