"""`dabfusion generate`: reading photos, finding and cutting out the person, placing them, chaining windows."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from dabfusion.io import DataError
from dabfusion.person import (
    Placement,
    camera_background,
    composite,
    detect_person,
    load_person_image,
    mask_box,
    measure_placement,
    segment_person,
)

BG = (40, 120, 200)


def figure(img: np.ndarray, x: int, y: int, h: int, colour=(230, 90, 30)) -> np.ndarray:
    """A standing figure of height h with its feet at (x, y): head, torso, legs, arms."""
    from PIL import ImageDraw

    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    u = h / 8
    d.ellipse([x - u, y - h, x + u, y - h + 2 * u], fill=colour)  # head
    d.rectangle([x - 1.2 * u, y - h + 2 * u, x + 1.2 * u, y - 3.5 * u], fill=colour)  # torso
    d.rectangle([x - 1.2 * u, y - 3.5 * u, x - 0.2 * u, y], fill=colour)  # legs
    d.rectangle([x + 0.2 * u, y - 3.5 * u, x + 1.2 * u, y], fill=colour)
    d.rectangle([x - 2.4 * u, y - h + 2.2 * u, x - 1.2 * u, y - 4 * u], fill=colour)  # arms
    d.rectangle([x + 1.2 * u, y - h + 2.2 * u, x + 2.4 * u, y - 4 * u], fill=colour)
    return np.asarray(im)


def photo(w=240, h=320, people=((120, 300, 240),)) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8) + np.array(BG, np.uint8)
    for x, y, height in people:
        img = figure(img, x, y, height)
    return img


def save(tmp_path, name, img, mode=None):
    im = Image.fromarray(img)
    if mode:
        im = im.convert(mode)
    im.save(tmp_path / name)
    return tmp_path / name


# --- reading photos ----------------------------------------------------------------------------
def test_bad_images_give_clear_errors(tmp_path):
    (tmp_path / "notes.png").write_text("not an image at all")
    with pytest.raises(DataError, match="notes.png: not an image"):
        load_person_image(tmp_path / "notes.png")
    good = save(tmp_path, "ok.png", photo())
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png: the image is damaged or truncated"):
        load_person_image(tmp_path / "cut.png")
    with pytest.raises(DataError, match="tiny.png: 40x30 px is too small"):
        load_person_image(save(tmp_path, "tiny.png", photo(40, 30, ())))
    with pytest.raises(DataError, match="nothere.png: no such image"):
        load_person_image(tmp_path / "nothere.png")


def test_grayscale_rgba_and_huge_images_are_handled(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rgb, alpha = load_person_image(save(tmp_path, "gray.png", photo(), "L"))
    assert rgb.shape == (320, 240, 3) and alpha is None and "grayscale" in caplog.text
    rgba = np.concatenate([photo(), np.zeros((320, 240, 1), np.uint8)], axis=-1)
    rgba[100:300, 80:160, 3] = 255
    rgb, alpha = load_person_image(save(tmp_path, "cutout.png", rgba))
    assert alpha is not None and alpha[200, 120] and not alpha[10, 10] and "alpha channel" in caplog.text
    big = np.zeros((3000, 2500, 3), np.uint8)
    rgb, _ = load_person_image(save(tmp_path, "big.png", big))
    assert max(rgb.shape[:2]) == 2048


# --- finding and cutting out the person ------------------------------------------------------------
def test_a_person_on_a_plain_background_is_found_and_cut_out():
    img = photo()
    truth = np.any(img != np.array(BG, np.uint8), axis=-1)
    x0, y0, x1, y1 = detect_person(img)
    tx0, ty0, tx1, ty1 = mask_box(truth)
    assert abs(x0 - tx0) <= 3 and abs(y0 - ty0) <= 3 and abs(x1 - tx1) <= 3 and abs(y1 - ty1) <= 3
    mask = segment_person(img, (x0, y0, x1, y1))
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.85


def test_no_person_is_a_clear_error():
    with pytest.raises(DataError, match="empty.png: no person found"):
        detect_person(photo(people=()), "empty.png")


def test_several_people_take_the_largest_and_say_so(caplog):
    img = photo(w=360, people=((80, 300, 140), (240, 300, 240)))
    box = detect_person(img, "two.png")
    assert "2 people found; using the largest" in caplog.text
    assert box[0] > 150 and box[3] - box[1] > 200  # the tall one on the right


# --- placing the person where the training dancers stand --------------------------------------------
def test_composite_places_the_person_at_the_training_dancers_scale():
    img = photo()
    mask = np.any(img != np.array(BG, np.uint8), axis=-1)
    studio = np.full((64, 64, 3), 90, np.uint8)
    frame = composite(img, mask, studio, Placement(centre_x=0.5, feet_y=0.9, height=0.5))
    pasted = np.any(frame != 90, axis=-1)
    x0, y0, x1, y1 = mask_box(pasted)
    assert abs((y1 - y0) - 32) <= 2 and abs(y1 - 0.9 * 64) <= 2 and abs((x0 + x1) / 2 - 32) <= 2
    assert (frame[5, 5] == 90).all()  # the studio elsewhere untouched


def test_placement_and_studio_are_measured_from_training_frames():
    frames = []
    for x in np.linspace(10, 54, 12).round().astype(int):  # dancers of height 24 across a 64 x 64 studio
        frames.append(figure(np.full((64, 64, 3), 90, np.uint8), int(x), 56, 24))
    frames = np.stack(frames)
    studio = camera_background(frames)
    assert np.abs(studio.astype(int) - 90).max() <= 1  # the dancers move away: the median is the floor
    p = measure_placement(frames, studio)
    assert abs(p.height - 25 / 64) < 0.04 and abs(p.feet_y - 57 / 64) < 0.03 and 0.25 < p.centre_x < 0.75



def test_training_motion_is_measured_camera_by_camera(tmp_path):
    """The yardstick of Figure 6: the same dance filmed larger by one camera is faster in pixels."""
    import pandas as pd

    from dabfusion.generate import training_motion

    rows = []
    for cam, h in (("c01", 16), ("c09", 32)):  # c09 frames the dancer twice as large
        video = np.stack([figure(np.full((64, 64, 3), 90, np.uint8), 20 + (h // 8) * abs(i % 6 - 3), 60, h)
                          for i in range(16)])
        np.save(tmp_path / f"{cam}.npy", video)
        rows.append({"split": "train", "camera": cam.upper(), "frames_file": tmp_path / f"{cam}.npy",
                     "start_frame": 0, "n_frames": 16, "fps": 15.0})
    clips = pd.DataFrame(rows)
    small, large = training_motion(clips, camera="c01"), training_motion(clips, camera="c09")
    assert 1.6 < large / small < 2.5
    assert training_motion(clips) == pytest.approx((small + large) / 2)

# --- long music: windows, continued --------------------------------------------------------------------
def test_windows_cover_the_dance():
    from dabfusion.generate import window_starts

    assert window_starts(16, 16, 4) == [0]
    starts = window_starts(100, 16, 4)
    assert starts[:3] == [0, 12, 24] and starts[-1] + 16 >= 100 and starts[-2] + 16 < 100


def test_known_frames_are_kept_by_every_sampler():
    from dabfusion.diffusion import samplers
    from dabfusion.diffusion.schedule import CosineSchedule

    schedule = CosineSchedule(1000)
    known = torch.rand(1, 3, 8, 4, 4) * 2 - 1
    frames = torch.arange(8) < 3

    def eps_fn(x, t):  # a "model" that always thinks the clean video is all zeros
        return schedule.predict_eps(x, t, torch.zeros_like(x))

    fn = samplers.with_known_frames(eps_fn, schedule, known, frames)
    for name, steps in (("ddim", 10), ("dpmpp2m", 10)):
        out = samplers.sample(name, fn, schedule, (1, 3, 8, 4, 4), torch.Generator().manual_seed(0), steps, 0.0,
                              None, "cpu")
        assert torch.allclose(out[:, :, :3], known[:, :, :3], atol=1e-3), name
        assert out[:, :, 3:].abs().max() < 1e-3, name  # the rest: what the model says


# --- the command's checks on its inputs: each fails before any model runs, naming the file ------------
def write_audio(path, seconds=3.0, sr=44100, channels=1, codec=None, amplitude=0.3):
    """A 440 Hz tone as WAV (soundfile) or through PyAV's ``codec`` (mp3, flac, opus, aac)."""
    import av
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    tone = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    if codec is None:
        sf.write(str(path), np.repeat(tone[:, None], channels, axis=1), sr)
        return path
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo" if channels == 2 else "mono")
        fmt = stream.codec_context.format.name
        size = stream.codec_context.frame_size or 1024
        for i in range(0, len(tone), size):
            chunk = np.repeat(tone[None, i:i + size], channels, axis=0)
            if not fmt.endswith("p"):  # packed formats interleave the channels in one row
                chunk = chunk.T.reshape(1, -1)
            if fmt.startswith(("s16", "s32")):  # integer samples at full scale
                dtype = np.int16 if fmt.startswith("s16") else np.int32
                chunk = (chunk * np.iinfo(dtype).max).astype(dtype)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt,
                                               layout="stereo" if channels == 2 else "mono")
            frame.sample_rate, frame.pts = sr, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize("name,sr,channels,codec", [
    ("song.mp3", 44100, 2, "mp3"), ("song.flac", 48000, 1, "flac"), ("song.ogg", 48000, 2, "libopus"),
    ("song.m4a", 22050, 1, "aac"), ("song.wav", 8000, 2, None), ("song.wav", 96000, 1, None)])
def test_music_in_any_common_format_and_rate_is_read(tmp_path, name, sr, channels, codec):
    from dabfusion.music.audio import load_music

    samples, got = load_music(write_audio(tmp_path / name, 3.0, sr, channels, codec), sample_rate=22050)
    assert got == 22050 and abs(len(samples) / 22050 - 3.0) < 0.1  # codecs pad a few ms
    spectrum = np.abs(np.fft.rfft(samples[2000:2000 + 22050]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # the tone survived decoding and resampling


@pytest.fixture
def bundle_dir(tmp_path):
    """A generator bundle whose models are placeholders: enough for every check that runs before them."""
    import json

    root = tmp_path / "generator"
    (root / "backgrounds").mkdir(parents=True)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(root / "backgrounds" / "c01.png")
    files = {"lfae": "lfae.safetensors", "unet": "unet.safetensors", "style": "style.safetensors",
             "movement": "movement.safetensors", "background_c01": "backgrounds/c01.png"}
    for f in files.values():
        (root / f).touch()
    (root / "generator.json").write_text(json.dumps({
        "fps": 15, "image_size": 64, "n_frames": 32, "music": {}, "sampling": {}, "cameras": ["c01"],
        "placement": {"c01": {"centre_x": 0.5, "feet_y": 0.9, "height": 0.5}}, "files": files}))
    return root


def generate_fails(tmp_path, bundle, match, image=None, music=None, out="dance.mp4", **kw):
    from dabfusion.generate import generate

    image = image or save(tmp_path, "person.png", photo())
    music = music or write_audio(tmp_path / "song.wav")
    with pytest.raises(DataError, match=match):
        generate(image, music, bundle, tmp_path / out, progress=False, **kw)
    assert not (tmp_path / out).exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # nothing half-written


def test_bad_inputs_of_generate_fail_early_and_write_nothing(tmp_path, bundle_dir):
    generate_fails(tmp_path, tmp_path / "nowhere", "no generator.json; build the generator")
    (bundle_dir / "unet.safetensors").unlink()
    generate_fails(tmp_path, bundle_dir, "bundle is incomplete, .*unet.safetensors is missing")
    (bundle_dir / "unet.safetensors").touch()
    generate_fails(tmp_path, bundle_dir, "silent.wav: the music is silent",
                   music=write_audio(tmp_path / "silent.wav", amplitude=0.0))
    generate_fails(tmp_path, bundle_dir, "blip.wav: only 0.50 s of audio",
                   music=write_audio(tmp_path / "blip.wav", seconds=0.5))
    generate_fails(tmp_path, bundle_dir, r"short.wav: 1.50 s of music make 22 frames .* fewer than one window of 32",
                   music=write_audio(tmp_path / "short.wav", seconds=1.5))
    generate_fails(tmp_path, bundle_dir, "a name ending in .mp4", out="dance.gif")
    (tmp_path / "person.txt").write_text("hello")
    generate_fails(tmp_path, bundle_dir, "person.txt: not an image", image=tmp_path / "person.txt")
    generate_fails(tmp_path, bundle_dir, "empty.png: no person found",
                   image=save(tmp_path, "empty.png", photo(people=())))
    generate_fails(tmp_path, bundle_dir, "no background of camera 'c07'", background_from="c07")
    generate_fails(tmp_path, bundle_dir, "unknown chaining 'overlap'", method="overlap")


def test_without_mediapipe_the_fallback_places_the_largest_person(tmp_path, bundle_dir, caplog, monkeypatch):
    """Drawn figures are no body to MediaPipe's pose model (tests/test_photos.py: real photos); the
    fallback without it finds them on their plain background."""
    from dabfusion import person
    from dabfusion.generate import load_bundle, reference_frame

    monkeypatch.setattr(person, "mediapipe_available", lambda: False)
    two = save(tmp_path, "two.png", photo(w=360, people=((80, 300, 140), (240, 300, 240))))
    frame = reference_frame(load_bundle(bundle_dir), two)
    assert "2 people found; using the largest" in caplog.text and "MediaPipe is not installed" in caplog.text
    assert "whether the whole body is in the photo is not checked" in caplog.text
    x0, y0, x1, y1 = mask_box(np.any(np.abs(frame.astype(int) - 90) > 20, axis=-1))
    assert abs((y1 - y0) - 32) <= 3 and abs(y1 - 58) <= 2 and abs((x0 + x1) / 2 - 32) <= 3


def test_an_unseen_dancer_photo_is_found_and_cut_out():
    """Figure 6's inputs: a rendered person on a plain backdrop, found and segmented by the fallback."""
    from dabfusion.synth.dataset import dancer_photo

    img = dancer_photo("d06", 0)
    truth = np.any(np.abs(img.astype(int) - np.array([236, 234, 228])) > 3, axis=-1)
    mask = segment_person(img, detect_person(img, "d06.png"))
    assert (mask & truth).sum() / (mask | truth).sum() > 0.8
    assert 0.4 < (mask_box(truth)[3] - mask_box(truth)[1]) / img.shape[0] < 0.9  # a whole person, not cropped


# --- the paper's detector and segmenter, when their weights are local -------------------------------------
def test_yolo_output_is_decoded_to_people_in_image_pixels():
    from dabfusion.person import yolo_person_boxes

    pred = np.zeros((84, 6), np.float32)  # YOLOv8: cx, cy, w, h, then 80 class scores; anchors on axis 1
    pred[:4, 0], pred[4, 0] = (320, 300, 100, 400), 0.9  # a person
    pred[:4, 1], pred[4, 1] = (322, 302, 98, 396), 0.8  # the same person again: suppressed
    pred[:4, 2], pred[4, 2] = (100, 300, 50, 200), 0.6  # a smaller person
    pred[:4, 3], pred[5, 3] = (500, 300, 80, 80), 0.95  # a bicycle: not a person
    pred[:4, 4], pred[4, 4] = (500, 500, 80, 80), 0.1  # too unsure
    # a 1280 x 960 photo letterboxed to 640: scale 0.5, 80 px of padding above and below
    boxes = yolo_person_boxes(pred, 0.5, (0, 80))
    assert boxes == [(540, 40, 740, 840), (150, 240, 250, 640)]
    assert yolo_person_boxes(np.zeros((84, 6)), 1.0, (0, 0)) == []


def test_yolo_sees_the_photo_letterboxed_and_its_boxes_come_back_in_photo_pixels(tmp_path, monkeypatch):
    import dabfusion.person as person

    img = photo(w=240, h=320)  # the figure: x 90..150, y 60..300
    seen = {}

    class Net:  # stands in for OpenCV's network: finds the figure in what it is given
        def setInput(self, blob):
            seen["blob"] = blob

        def forward(self):
            x = seen["blob"][0].transpose(1, 2, 0)
            fig = np.any(np.abs(x - np.array(BG) / 255.0) > 0.1, axis=-1) & np.any(np.abs(x - 114 / 255.0) > 0.01, -1)
            x0, y0, x1, y1 = mask_box(fig)
            pred = np.zeros((1, 84, 1), np.float32)
            pred[0, :5, 0] = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, 0.9)
            return pred

    monkeypatch.setattr(person, "_yolo_net", lambda path: Net())
    (tmp_path / "yolov8n.onnx").touch()
    box = person.detect_person(img, "p.png", tmp_path)
    assert seen["blob"].shape == (1, 3, 640, 640) and seen["blob"].dtype == np.float32
    truth = mask_box(np.any(img != np.array(BG, np.uint8), axis=-1))
    assert all(abs(a - b) <= 3 for a, b in zip(box, truth)), (box, truth)


def test_yolo_and_sam_files_that_are_not_models_give_clear_errors(tmp_path):
    from dabfusion.person import _sam_predictor, _yolo_net

    (tmp_path / "yolov8n.onnx").write_bytes(b"\x08\x07garbage" * 10)
    with pytest.raises(DataError, match="yolov8n.onnx: not a YOLO ONNX model"):
        detect_person(photo(), "p.png", tmp_path)
    import pickle

    (tmp_path / "sam_vit_b_01ec64.pth").write_bytes(pickle.dumps(BadPickle(), protocol=2))
    with pytest.raises(DataError, match="sam_vit_b_01ec64.pth: cannot be loaded safely"):
        segment_person(photo(), (60, 60, 180, 300), weights_dir=tmp_path)
    assert not BadPickle.ran  # refused, never unpickled
    _yolo_net.cache_clear()
    _sam_predictor.cache_clear()


class BadPickle:
    ran = False

    def __reduce__(self):
        return (setattr, (BadPickle, "ran", True))


def test_segment_anything_is_used_when_its_checkpoint_is_local(tmp_path, monkeypatch, caplog):
    """A tiny SAM of the real architecture family (random weights): the checkpoint is loaded
    with weights_only, the box prompt goes in, a mask of the image's size comes out."""
    import segment_anything
    from segment_anything.build_sam import _build_sam

    from dabfusion.person import _sam_predictor

    def tiny(checkpoint=None):
        return _build_sam(encoder_embed_dim=16, encoder_depth=1, encoder_num_heads=1, encoder_global_attn_indexes=())

    monkeypatch.setitem(segment_anything.sam_model_registry, "vit_b", tiny)
    torch.manual_seed(0)
    model = tiny()
    with torch.no_grad():  # a decoder that says "everything inside the box is the person": bias the mask up
        for p in model.mask_decoder.output_hypernetworks_mlps.parameters():
            p.zero_()
        model.mask_decoder.output_hypernetworks_mlps[0].layers[-1].bias.fill_(1.0)
    torch.save(model.state_dict(), tmp_path / "sam_vit_b_01ec64.pth")
    caplog.set_level(logging.INFO)
    img = photo()
    _sam_predictor.cache_clear()
    mask = segment_person(img, (60, 60, 180, 300), weights_dir=tmp_path)
    _sam_predictor.cache_clear()
    assert mask.shape == img.shape[:2] and mask.dtype == bool
    assert "segmented by Segment Anything" in caplog.text


def test_inference_loads_weights_without_training_code():
    """`generate`, sampling and the baselines read checkpoints through dabfusion.checkpoints alone."""
    import subprocess
    import sys

    code = ("import sys; import dabfusion.generate, dabfusion.sampling, dabfusion.baselines, dabfusion.checkpoints; "
            "print(sorted(m for m in sys.modules if m.startswith('dabfusion.training')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout


def test_generate_prefers_the_bench_bundle_and_says_when_it_takes_the_demo_one(tmp_path, caplog):
    from dabfusion.generate import BUNDLE_FILE, default_bundle

    bench, demo = tmp_path / "results/bench/generator", tmp_path / "results/generator"
    with caplog.at_level("WARNING"):  # neither made yet: the demo's path, for load_bundle's error, and no warning
        assert default_bundle((bench, demo)) == demo
    assert "demo's bundle" not in caplog.text
    demo.mkdir(parents=True)
    (demo / BUNDLE_FILE).write_text("{}")
    (demo.parent / "figure6").mkdir()
    (demo.parent / "figure6/figure6.csv").write_text("motion_vs_training\n0.4\n0.5\n")
    with caplog.at_level("WARNING"):
        assert default_bundle((bench, demo)) == demo
    assert "demo's bundle" in caplog.text and "moved 0.45 of the training dancers' motion" in caplog.text
    bench.mkdir(parents=True)
    (bench / BUNDLE_FILE).write_text("{}")
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert default_bundle((bench, demo)) == bench
    assert "demo" not in caplog.text
