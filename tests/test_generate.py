"""`dabfusion generate`: reading photos, finding and cutting out the person, placing them, chaining windows."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from dabfusion.io import DataError
from dabfusion.person import (Placement, camera_background, composite, detect_person, load_person_image,
                              mask_box, measure_placement, segment_person)

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
