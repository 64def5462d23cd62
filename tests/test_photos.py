"""Real photos and odd files through `dabfusion generate`'s person step: a reference frame or one clear line.

The real photos are in tests/data/photos (their sources and licences: SOURCES.md there); the odd
files are made here from them. MediaPipe, installed by tools/setup-venv.sh, finds the person.
"""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dabfusion.io import DataError

from .conftest import ROOT
from .test_generate import bundle_dir, write_audio  # noqa: F401 - the fixture, shared

PHOTOS = ROOT / "tests" / "data" / "photos"
STADIUM = PHOTOS / "full_body_stadium.jpg"


def _stadium() -> Image.Image:
    return Image.open(STADIUM).convert("RGB")


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def _cmyk(p):
    return _save(_stadium().convert("CMYK"), p / "cmyk.jpg")


def _gray16(p):
    a = (np.asarray(Image.open(PHOTOS / "two_people_gray.jpg").convert("L"), np.uint16) * 257)
    return _save(Image.fromarray(a), p / "gray16.png")


def _exif_rotated(p):
    """Stored sideways with EXIF orientation 6 (rotate 90 degrees clockwise to show): as phones do."""
    img = _stadium().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(img, p / "rotated.jpg", exif=exif)


def _gif(p):
    a, b = _stadium(), _stadium().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a.save(p / "animated.gif", save_all=True, append_images=[b], duration=100, loop=0)
    return p / "animated.gif"


def _webp(p):
    return _save(_stadium(), p / "photo.webp")


def _grayscale(p):
    """One channel (PIL mode L), from a photo taken in gray (the stadium photo in gray: its own case)."""
    return _save(Image.open(PHOTOS / "two_people_gray.jpg").convert("L"), p / "gray.png")


def _stadium_gray(p):
    """The stadium photo in gray: MediaPipe finds the body but reads its pose sideways."""
    return _save(_stadium().convert("L"), p / "stadium_gray.png")


def _small_person(p):
    """The same person, a fifth of the photo's height: far away in a big picture."""
    big = Image.new("RGB", (1600, 1000), (60, 120, 60))
    big.paste(_stadium(), (600, 560))
    return _save(big, p / "far.jpg")


def _cut_at_the_knees(p):
    s = _stadium()
    return _save(s.crop((0, 0, s.width, int(s.height * 0.62))), p / "knees.jpg")


def _cut_at_the_side(p):
    """The person's left arm and leg past the photo's edge: still head to ankles."""
    s = _stadium()
    return _save(s.crop((110, 0, s.width, s.height)), p / "side.jpg")


def _upside_down(p):
    return _save(_stadium().rotate(180), p / "upside_down.jpg")


def _huge(p):
    return _save(_stadium().resize((3288, 2052)), p / "huge.jpg", quality=80)


def _truncated(p):
    data = STADIUM.read_bytes()
    (p / "truncated.jpg").write_bytes(data[: len(data) // 3])
    return p / "truncated.jpg"


def _not_an_image(p):
    (p / "notes.jpg").write_text("this is a text file, not a photo")
    return p / "notes.jpg"


def _tiny(p):
    return _save(_stadium().resize((48, 30)), p / "tiny.png")


def _no_person(p):
    return _save(Image.fromarray(np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))), p / "gradient.png")


OK = None
CASES = {
    # real photos (tests/data/photos/SOURCES.md)
    "full body, stadium background": (lambda p: STADIUM, OK),
    "two people, grayscale": (lambda p: PHOTOS / "two_people_gray.jpg", OK),
    "group of small people": (lambda p: PHOTOS / "group_small_people.jpg", OK),
    "portrait": (lambda p: PHOTOS / "portrait_1.jpg", "needs a full-body photo: the ankles are not visible"),
    "half-body portrait": (lambda p: PHOTOS / "portrait_2.jpg", "needs a full-body photo: the ankles are not visible"),
    "cartoon": (lambda p: PHOTOS / "cartoon.jpg", "no person found"),
    "two rendered characters": (lambda p: PHOTOS / "animated_film_still.jpg", OK),
    "back view, people around": (lambda p: PHOTOS / "back_view_walking.jpg", OK),
    # odd files made from them
    "grayscale": (_grayscale, OK),
    "grayscale, pose misread": (_stadium_gray, "degrees from upright"),
    "CMYK JPEG": (_cmyk, OK),
    "16-bit PNG": (_gray16, OK),
    "EXIF-rotated": (_exif_rotated, OK),
    "animated GIF": (_gif, OK),
    "WebP": (_webp, OK),
    "small person in a big photo": (_small_person, OK),
    "person cut by the frame's side": (_cut_at_the_side, OK),
    "huge photo": (_huge, OK),
    "cut at the knees": (_cut_at_the_knees, "needs a full-body photo: the ankles are not visible"),
    "upside down": (_upside_down, "head is below their feet"),
    "truncated JPEG": (_truncated, "damaged or truncated"),
    "text file named .jpg": (_not_an_image, "not an image PIL can read"),
    "tiny": (_tiny, "too small to find a person"),
    "no person": (_no_person, "no person found"),
    "a folder": (lambda p: p, "a folder, not an image"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_photo_gives_a_reference_or_one_clear_line(case, tmp_path, bundle_dir):  # noqa: F811
    from dabfusion.generate import load_bundle, prepare_reference

    make, expected = CASES[case]
    path = make(tmp_path)
    bundle = load_bundle(bundle_dir)
    if expected is OK:
        ref = prepare_reference(bundle, path, size=128)
        assert ref.frame.shape == (64, 64, 3) and ref.hires.shape == (128, 128, 3)
        # the person stands where the bundle says the dancers stand (centre 0.5, feet 0.9, height 0.5)
        moved = np.abs(ref.frame.astype(int) - 90).max(axis=-1) > 25
        ys, xs = np.nonzero(moved)
        assert moved.mean() > 0.03 and abs(ys.max() + 1 - 0.9 * 64) <= 4, case
        assert 0.3 * 64 <= ys.max() - ys.min() <= 0.6 * 64 and abs(np.median(xs) - 32) <= 12, case
        assert ref.person.landmarks is not None and ref.person.landmarks.shape == (33, 3)
    else:
        with pytest.raises(DataError, match=expected) as err:
            prepare_reference(bundle, path)
        message = str(err.value)
        assert str(path) in message and "\n" not in message


def test_keep_background_puts_the_person_back_in_their_own_scene(bundle_dir):  # noqa: F811
    from dabfusion.generate import load_bundle, prepare_reference
    from dabfusion.person import remove_person

    bundle = load_bundle(bundle_dir)
    ref = prepare_reference(bundle, STADIUM, keep_background=True, size=128)
    studio = prepare_reference(bundle, STADIUM, size=128)
    person = np.abs(studio.hires.astype(int) - 90).max(axis=-1) > 25
    # the same person at the same place, on the stadium instead of the studio
    assert np.abs(ref.hires.astype(int) - studio.hires.astype(int))[person].mean() < 25
    assert np.abs(ref.hires.astype(int) - 90)[~person].mean() > 30
    # the person inpainted away: the photo changes only where they were
    photo, mask = ref.photo, ref.person.mask
    empty = remove_person(photo, mask)
    assert np.abs(empty.astype(int) - photo.astype(int))[mask].mean() > 20
    far = np.ones_like(mask)
    far[max(0, mask.nonzero()[0].min() - 40):, :] = False
    assert (empty[far] == photo[far]).all()


def test_keep_background_and_background_exclude_each_other(tmp_path, bundle_dir):  # noqa: F811
    from dabfusion.generate import load_bundle, prepare_reference

    with pytest.raises(DataError, match="--keep-background and --background exclude each other"):
        prepare_reference(load_bundle(bundle_dir), STADIUM, background=STADIUM, keep_background=True)
    with pytest.raises(DataError, match="--size 1024: render between the model's 64 px and 512 px"):
        prepare_reference(load_bundle(bundle_dir), STADIUM, size=1024)


def test_the_cli_refuses_a_portrait_in_one_line_before_any_model_loads(tmp_path, bundle_dir):  # noqa: F811
    """The bundle's models are empty placeholder files: a refusal must come before they are read."""
    music = write_audio(tmp_path / "song.wav", seconds=4.0)
    res = subprocess.run([sys.executable, "-m", "dabfusion.cli", "generate", "--image", str(PHOTOS / "portrait_1.jpg"),
                          "--music", str(music), "--checkpoint", str(bundle_dir), "--out", str(tmp_path / "d.mp4")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 1, res.stderr
    errors = [line for line in res.stderr.splitlines() if "ERROR" in line or "Traceback" in line]
    assert len(errors) == 1 and "portrait_1.jpg: needs a full-body photo" in errors[0], res.stderr
    assert not (tmp_path / "d.mp4").exists()


def test_landmarks_of_a_full_body_photo_are_where_the_body_is():
    from dabfusion.person import find_person, load_person_image, require_full_body

    image, _ = load_person_image(STADIUM)
    person = find_person(image, "stadium")
    require_full_body(person, image.shape, "stadium")
    x0, top, x1, feet = person.extent()
    lm = person.landmarks
    nose, ankles = lm[0], lm[[27, 28]]
    assert x0 <= nose[0] <= x1 and top <= nose[1] < ankles[:, 1].min() <= feet + 2
    assert person.mask[int(lm[11, 1]), int(lm[11, 0])]  # a shoulder is inside the mask
    assert 0.05 < person.mask.mean() < 0.4  # the player, not the stadium
