"""AIST++ naming, genres, tempi and splits: the one place these facts live.

Video names follow ``g{GG}_s{SS}_c{CC}_d{DD}_m{GG}{k}_ch{NN}``; the sequence name (one
recording seen by nine cameras) has ``cAll`` in place of the camera. Facts come from
``shared/reference/aistpp.md`` (AIST++ API, FACT's code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# genre code -> (name, AIST++ dancer ids)
GENRES: dict[str, tuple[str, tuple[str, ...]]] = {
    "BR": ("Break", ("d04", "d05", "d06")),
    "PO": ("Pop", ("d10", "d11", "d12")),
    "LO": ("Lock", ("d13", "d14", "d15")),
    "MH": ("Middle Hip-hop", ("d22", "d23", "d24")),
    "LH": ("LA style Hip-hop", ("d16", "d17", "d18")),
    "HO": ("House", ("d19", "d20", "d21")),
    "WA": ("Waack", ("d25", "d26", "d27")),
    "KR": ("Krump", ("d28", "d29", "d30")),
    "JS": ("Street Jazz", ("d01", "d02", "d03")),
    "JB": ("Ballet Jazz", ("d07", "d08", "d09")),
}
CAMERAS: tuple[str, ...] = tuple(f"c{i:02d}" for i in range(1, 10))
SITUATIONS: tuple[str, ...] = ("sBM", "sFM")
MUSIC_PER_GENRE = 6
# The paper's held-out music (the AIST++ cross-modal val/test music ids).
TEST_MUSIC: tuple[str, ...] = (
    "mBR0", "mPO1", "mLO2", "mMH3", "mLH4", "mHO5", "mWA0", "mKR2", "mJS3", "mJB5",
)
# Two camera files never existed in AIST++ (aistpp.md).
MISSING_VIDEOS: tuple[str, ...] = ("gMH_sBM_c08_d23_mMH1_ch05", "gMH_sBM_c09_d22_mMH2_ch01")

_NAME = re.compile(
    r"^g(?P<genre>[A-Z]{2})_(?P<situation>s[A-Z]{2})_(?P<camera>c\d{2}|cAll)_"
    r"(?P<dancer>d\d{2})_m(?P<music_genre>[A-Z]{2})(?P<music_k>\d)_ch(?P<choreo>\d{2})$"
)


def music_bpm(music_id: str) -> float:
    """Nominal tempo of an AIST++ track (FACT): 80 + 10k, House 110 + 5k."""
    genre, k = music_id[1:3], int(music_id[3])
    if genre not in GENRES or not 0 <= k < MUSIC_PER_GENRE or len(music_id) != 4:
        raise ValueError(f"not an AIST++ music id: {music_id!r} (expected e.g. 'mBR0')")
    return 110.0 + 5 * k if genre == "HO" else 80.0 + 10 * k


def music_ids(genre: str) -> list[str]:
    return [f"m{genre}{k}" for k in range(MUSIC_PER_GENRE)]


def test_music_of(genre: str) -> str:
    return next(m for m in TEST_MUSIC if m[1:3] == genre)


@dataclass(frozen=True)
class VideoName:
    """A parsed AIST++ video or sequence name."""

    genre: str
    situation: str
    camera: str  # 'c01'..'c09', or 'cAll' for a sequence
    dancer: str
    music_id: str
    choreo: str  # 'ch01'..

    @classmethod
    def parse(cls, name: str) -> "VideoName":
        m = _NAME.match(name)
        if not m:
            raise ValueError(
                f"not an AIST++ name: {name!r} "
                "(expected g{GG}_s{SS}_c{CC}_d{DD}_m{GG}{k}_ch{NN}, e.g. gBR_sBM_c01_d04_mBR0_ch01)"
            )
        g = m.groupdict()
        return cls(
            genre=g["genre"],
            situation=g["situation"],
            camera=g["camera"],
            dancer=g["dancer"],
            music_id=f"m{g['music_genre']}{g['music_k']}",
            choreo=f"ch{g['choreo']}",
        )

    def __str__(self) -> str:
        return (
            f"g{self.genre}_{self.situation}_{self.camera}_{self.dancer}_"
            f"{self.music_id}_{self.choreo}"
        )

    @property
    def sequence(self) -> str:
        """The sequence name (camera replaced by ``cAll``)."""
        return str(self.with_camera("cAll"))

    def with_camera(self, camera: str) -> "VideoName":
        return VideoName(self.genre, self.situation, camera, self.dancer, self.music_id, self.choreo)


def split_of_music(music_id: str) -> str:
    """The paper splits by music: the ten TEST_MUSIC tracks are test, the rest train."""
    return "test" if music_id in TEST_MUSIC else "train"
