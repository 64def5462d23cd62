"""A small numpy renderer: a studio (floor and walls) and a figure of shaded capsules.

Cameras are pinhole, OpenCV convention (x right, y down, z forward). Each body part is a
capsule (a sphere swept along a segment) rasterised into a z-buffer, so limbs in front hide
limbs behind from every camera. Shading is Lambertian from the capsule's surface normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import Dancer, Skeleton

# AIST++-like rig around the dancer: (azimuth deg from the front towards the dancer's right,
# camera height m, distance m). c01 front, c02 upper right, c03 right, c09 front and closer.
CAMERA_RIG: dict[str, tuple[float, float, float]] = {
    "c01": (0.0, 1.4, 5.2),
    "c02": (45.0, 2.9, 5.2),
    "c03": (90.0, 1.4, 5.2),
    "c04": (135.0, 1.5, 5.6),
    "c05": (180.0, 1.6, 5.2),
    "c06": (-135.0, 1.5, 5.6),
    "c07": (-90.0, 1.4, 5.2),
    "c08": (-45.0, 2.9, 5.2),
    "c09": (0.0, 1.2, 3.7),
}
LOOK_AT = np.array([0.0, 0.95, 0.0])
LIGHT = np.array([-0.45, -0.65, -0.6]) / np.linalg.norm([-0.45, -0.65, -0.6])  # camera frame, towards the light
ROOM_HALF = 6.0
WALL_HEIGHT = 4.0


@dataclass(frozen=True)
class Camera:
    name: str
    rotation: np.ndarray  # (3, 3) world -> camera
    position: np.ndarray  # (3,) world
    focal: float  # pixels
    width: int
    height: int

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) to camera coordinates (..., 3)."""
        return np.einsum("...j,ij->...i", points - self.position, self.rotation)  # no BLAS: reproducible

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> (pixel xy (..., 2), depth (...))."""
        pc = self.to_camera(points)
        z = pc[..., 2]
        xy = self.focal * pc[..., :2] / z[..., None] + np.array([self.width / 2, self.height / 2])
        return xy, z

    def as_aist_json(self) -> dict:
        """The camera in the AIST++ ``cameras/setting*.json`` form (rodrigues rotation)."""
        from scipy.spatial.transform import Rotation

        k = [[self.focal, 0.0, self.width / 2], [0.0, self.focal, self.height / 2], [0.0, 0.0, 1.0]]
        return {
            "name": self.name,
            "size": [self.width, self.height],
            "matrix": k,
            "distortions": [0.0, 0.0, 0.0, 0.0, 0.0],
            "rotation": Rotation.from_matrix(self.rotation).as_rotvec().tolist(),
            "translation": (-self.rotation @ self.position).tolist(),
        }


def make_camera(name: str, width: int, height: int) -> Camera:
    az, cam_h, dist = CAMERA_RIG[name]
    a = np.deg2rad(az)
    pos = np.array([-dist * np.sin(a), cam_h, dist * np.cos(a)])
    fwd = LOOK_AT - pos
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    rot = np.stack([right, down, fwd])
    # the same lens on every camera: a 1.75 m person at 5.2 m fills ~60% of the height
    focal = 1.8 * height
    return Camera(name, rot, pos, focal, width, height)


def render_background(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The empty studio seen by ``cam``: (image (H, W, 3) float, floor xz per pixel (H, W, 2), NaN off-floor)."""
    h, w = cam.height, cam.width
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    dirs_cam = np.stack([(xs + 0.5 - w / 2) / cam.focal, (ys + 0.5 - h / 2) / cam.focal, np.ones_like(xs)], -1)
    dirs = np.einsum("...i,ij->...j", dirs_cam, cam.rotation)  # camera -> world (rotation is orthonormal)
    o = cam.position
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(dirs[..., 1] < 0, -o[1] / dirs[..., 1], np.inf)
        t_wall = np.full((h, w), np.inf)
        for axis in (0, 2):
            for sign in (-1, 1):
                tw = (sign * ROOM_HALF - o[axis]) / dirs[..., axis]
                t_wall = np.where((tw > 0) & (tw < t_wall), tw, t_wall)
    hit_floor = t_floor < t_wall
    t = np.where(hit_floor, t_floor, t_wall)
    p = o + dirs * t[..., None]
    img = np.empty((h, w, 3))
    # floor: dark grey with a faint 0.5 m grid and a lighter dance area
    gx, gz = p[..., 0], p[..., 2]
    grid = (np.abs((gx / 0.5) % 1 - 0.5) > 0.47) | (np.abs((gz / 0.5) % 1 - 0.5) > 0.47)
    area = np.exp(-(gx**2 + gz**2) / (2 * 2.5**2))
    floor = 0.30 + 0.10 * area - 0.05 * grid
    img[hit_floor] = (floor[hit_floor, None] * np.array([1.0, 0.97, 0.92]))
    # walls: light, with a dark skirting band and soft vertical falloff
    wall = ~hit_floor
    height = np.clip(p[..., 1], 0.0, WALL_HEIGHT)
    shade = 0.82 - 0.12 * (height / WALL_HEIGHT)
    shade = np.where(height < 0.25, 0.35, shade)
    img[wall] = shade[wall, None] * np.array([0.93, 0.94, 0.97])
    floor_xz = np.where(hit_floor[..., None], np.stack([gx, gz], -1), np.nan)
    return img, floor_xz


@dataclass(frozen=True)
class Part:
    a: int  # index into the point table
    b: int
    radius: float
    color: str  # key into the dancer's palette
    pattern: bool = False  # clothing pattern along the part (the torso)


def body_parts(d: Dancer) -> tuple[list[Part], int]:
    """Capsules of the figure over the point table built by ``figure_points``."""
    g = d.girth
    sleeve = "top" if d.long_sleeves else "skin"
    leg = "skin" if d.shorts else "bottom"
    parts = [
        Part(17, 18, 0.13 * g, "top", pattern=True),  # torso: pelvis -> neck
        Part(5, 6, 0.075 * g, "top"),  # shoulders
        Part(11, 12, 0.1 * g, "bottom"),  # hips
        Part(18, 19, 0.05 * g, "skin"),  # neck -> head centre
        Part(5, 7, 0.055 * g, "top"), Part(6, 8, 0.055 * g, "top"),  # upper arms (sleeves)
        Part(7, 9, 0.045 * g, sleeve), Part(8, 10, 0.045 * g, sleeve),  # forearms
        Part(9, 9, 0.05 * g, "skin"), Part(10, 10, 0.05 * g, "skin"),  # hands
        Part(11, 13, 0.08 * g, "bottom"), Part(12, 14, 0.08 * g, "bottom"),  # thighs
        Part(13, 15, 0.06 * g, leg), Part(14, 16, 0.06 * g, leg),  # shins
        Part(15, 20, 0.045, "shoes"), Part(16, 21, 0.045, "shoes"),  # feet
        Part(19, 19, d.head_radius, "skin"),  # head
    ]
    if d.hair_style != "bald":
        parts.append(Part(22, 22, d.head_radius * 1.02, "hair"))  # hair cap behind/above the face
    if d.hair_style == "long":
        parts.append(Part(22, 23, d.head_radius * 0.75, "hair"))
    return parts, 24


def figure_points(sk: Skeleton, d: Dancer) -> np.ndarray:
    """(T, 24, 3): the 17 joints, pelvis, neck, head centre, 2 toes, hair centre, hair tip."""
    hr = d.head_radius
    hair = sk.head + np.einsum("tij,j->ti", sk.head_rot, [0.0, 0.25 * hr, -0.3 * hr])
    tip = sk.head + np.einsum("tij,j->ti", sk.head_rot, [0.0, -1.6 * hr, -0.55 * hr])
    return np.concatenate(
        [sk.joints, sk.pelvis[:, None], sk.neck[:, None], sk.head[:, None], sk.toes,
         hair[:, None], tip[:, None]],
        axis=1,
    )


def _palette(d: Dancer) -> dict[str, np.ndarray]:
    return {k: np.array(getattr(d, k)) for k in ("skin", "hair", "top", "top_alt", "bottom", "shoes")}


def render_frame(
    cam: Camera,
    background: np.ndarray,
    floor_xz: np.ndarray,
    points: np.ndarray,
    parts: list[Part],
    dancer: Dancer,
) -> np.ndarray:
    """Render one frame: points (24, 3) world -> uint8 image (H, W, 3)."""
    h, w = cam.height, cam.width
    img = background.copy()
    # soft contact shadow under the dancer
    px, pz = points[17, 0], points[17, 2]
    dist2 = (floor_xz[..., 0] - px) ** 2 + (floor_xz[..., 1] - pz) ** 2
    shadow = np.nan_to_num(np.exp(-dist2 / (2 * 0.3**2)), nan=0.0)
    img *= (1.0 - 0.45 * shadow)[..., None]
    zbuf = np.full((h, w), np.inf)
    pal = _palette(dancer)
    pc = cam.to_camera(points)
    xy = cam.focal * pc[:, :2] / pc[:, 2:3] + np.array([w / 2, h / 2])
    for part in parts:
        za, zb = pc[part.a, 2], pc[part.b, 2]
        if min(za, zb) <= 0.1:
            continue
        a, b = xy[part.a], xy[part.b]
        ra, rb = cam.focal * part.radius / za, cam.focal * part.radius / zb
        x0 = int(max(0, np.floor(min(a[0] - ra, b[0] - rb))))
        x1 = int(min(w, np.ceil(max(a[0] + ra, b[0] + rb)) + 1))
        y0 = int(max(0, np.floor(min(a[1] - ra, b[1] - rb))))
        y1 = int(min(h, np.ceil(max(a[1] + ra, b[1] + rb)) + 1))
        if x0 >= x1 or y0 >= y1:
            continue
        gy, gx = np.mgrid[y0:y1, x0:x1]
        qx, qy = gx + 0.5 - a[0], gy + 0.5 - a[1]
        ab = b - a
        ab2 = float(ab @ ab)
        t = np.clip((qx * ab[0] + qy * ab[1]) / ab2, 0.0, 1.0) if ab2 > 1e-12 else np.zeros_like(qx)
        dx, dy = qx - t * ab[0], qy - t * ab[1]
        dist = np.sqrt(dx * dx + dy * dy)
        rad = ra + t * (rb - ra)
        inside = dist < rad
        if not inside.any():
            continue
        q = np.where(inside, dist / rad, 0.0)
        nz = np.sqrt(1.0 - q * q)
        depth = za + t * (zb - za) - part.radius * nz
        win = zbuf[y0:y1, x0:x1]
        vis = inside & (depth < win)
        if not vis.any():
            continue
        inv = np.where(dist > 1e-9, q / np.maximum(dist, 1e-9), 0.0)
        normal = np.stack([dx * inv, dy * inv, -nz], -1)
        lambert = np.clip(np.einsum("...i,i->...", normal, LIGHT), 0.0, 1.0)
        shade = 0.38 + 0.62 * lambert
        color = np.broadcast_to(pal[part.color], gx.shape + (3,))
        if part.pattern and dancer.top_pattern != "solid":
            band = np.floor(t * 7).astype(int) % 2 == 1
            if dancer.top_pattern == "checks":
                band ^= (np.floor((dx * ab[1] - dy * ab[0]) / np.sqrt(max(ab2, 1e-9)) / max(ra, 1e-6) * 2) % 2) == 1
            color = np.where(band[..., None], pal["top_alt"], color)
        win[vis] = depth[vis]
        img[y0:y1, x0:x1][vis] = (color * shade[..., None])[vis]
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def render_portrait(dancer: Dancer, pose: dict[str, float], width: int = 192, height: int = 256,
                    background: tuple[int, int, int] = (236, 234, 228)) -> np.ndarray:
    """A photo-like still of ``dancer`` standing in ``pose``, seen from the front on a plain
    backdrop (no studio, no floor): the input a user gives `dabfusion generate`. (H, W, 3) uint8."""
    from .body import forward_kinematics

    cam = make_camera("c01", width, height)
    backdrop = np.broadcast_to(np.asarray(background, np.float64) / 255.0, (height, width, 3)).copy()
    no_floor = np.full((height, width, 2), np.nan)  # no floor: no contact shadow
    skeleton = forward_kinematics({k: np.array([v]) for k, v in pose.items()}, dancer)
    parts, _ = body_parts(dancer)
    return render_frame(cam, backdrop, no_floor, figure_points(skeleton, dancer)[0], parts, dancer)
