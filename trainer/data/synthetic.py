"""Procedural cartoon faces with known generating factors (numpy only).

The app's built-in data set. Every face is drawn from a row of factors (skin tone, face width, gaze, ...), so a
model trained on these images can be scored for how well its latents line up with the true factors (MIG).

How it draws: all faces of a chunk are rendered at once. Each part (head, eye, mouth, ...) is a signed distance
field on a shared pixel grid, turned into coverage with a one-pixel linear ramp (analytic anti-aliasing), and
alpha-composited over the image in painter's order. World coordinates span [-1, 1] across the image, y downwards,
so a face looks the same at every image size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RENDERER_VERSION = 1          # bump when images or factor sampling change, so cached data sets are rebuilt
CHUNK_SIZE = 64               # faces rendered together; keeps the working arrays small enough to stay in cache
HAIR_STYLES = ("short", "long", "bun", "fringe")
_ZOOM = 0.88                  # the image shows world coordinates [-_ZOOM, _ZOOM]


@dataclass(frozen=True)
class FactorSpec:
    name: str
    kind: str                 # "continuous" | "categorical"
    low: float
    high: float
    levels: int               # number of categories; 0 for continuous factors


FACTORS: tuple[FactorSpec, ...] = (
    FactorSpec("skin_tone", "continuous", 0.0, 1.0, 0),        # light .. dark
    FactorSpec("face_width", "continuous", 0.0, 1.0, 0),       # narrow .. wide
    FactorSpec("face_length", "continuous", 0.0, 1.0, 0),      # short .. long
    FactorSpec("eye_size", "continuous", 0.0, 1.0, 0),
    FactorSpec("eye_spacing", "continuous", 0.0, 1.0, 0),      # close .. far apart
    FactorSpec("gaze_x", "continuous", -1.0, 1.0, 0),          # pupils left .. right
    FactorSpec("brow_tilt", "continuous", -1.0, 1.0, 0),       # worried (inner ends up) .. angry (inner ends down)
    FactorSpec("mouth_curve", "continuous", -1.0, 1.0, 0),     # frown .. smile
    FactorSpec("mouth_width", "continuous", 0.0, 1.0, 0),
    FactorSpec("hair_color", "continuous", 0.0, 1.0, 0),       # platinum .. golden .. auburn .. brown .. black
    FactorSpec("hair_style", "categorical", 0.0, float(len(HAIR_STYLES) - 1), len(HAIR_STYLES)),
    FactorSpec("glasses", "categorical", 0.0, 1.0, 2),         # 0 none, 1 round glasses
    FactorSpec("head_x", "continuous", -1.0, 1.0, 0),          # position in the frame
    FactorSpec("head_y", "continuous", -1.0, 1.0, 0),
    FactorSpec("light_dir", "continuous", -1.0, 1.0, 0),       # light from the left .. right
    FactorSpec("background_hue", "continuous", 0.0, 1.0, 0),   # red .. yellow .. green .. blue .. purple
)
FACTOR_NAMES: tuple[str, ...] = tuple(spec.name for spec in FACTORS)

# Colour ramps (RGB in [0, 1]) that the tone factors walk along.
_SKIN_RAMP = np.array([[1.00, 0.87, 0.77], [0.93, 0.74, 0.58], [0.78, 0.55, 0.38],
                       [0.56, 0.36, 0.23], [0.36, 0.22, 0.14]], dtype=np.float32)
_HAIR_RAMP = np.array([[0.96, 0.90, 0.66], [0.85, 0.63, 0.26], [0.62, 0.25, 0.10],
                       [0.36, 0.22, 0.12], [0.09, 0.07, 0.07]], dtype=np.float32)
_SHIRT = np.array([0.22, 0.27, 0.36], dtype=np.float32)
_LINE = np.array([0.16, 0.10, 0.09], dtype=np.float32)       # eye outlines
_EYE_WHITE = np.array([0.98, 0.98, 0.96], dtype=np.float32)
_IRIS = np.array([0.27, 0.42, 0.55], dtype=np.float32)
_PUPIL = np.array([0.04, 0.04, 0.06], dtype=np.float32)
_LIPS = np.array([0.62, 0.16, 0.18], dtype=np.float32)
_FRAME = np.array([0.08, 0.08, 0.10], dtype=np.float32)


# ---------------------------------------------------------------- factor sampling

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a counter-based hash, identical on every machine (uint64 wraps on purpose)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniforms(seed: int, indices: np.ndarray, count: int) -> np.ndarray:
    """float32 (N, count) in [0, 1), a pure function of (seed, index, column)."""
    seed_key = _splitmix64(np.array([seed], dtype=np.uint64))
    row_key = _splitmix64(seed_key ^ indices.astype(np.uint64))
    columns = np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
    bits = _splitmix64(row_key[:, None] + columns[None, :]) >> np.uint64(40)    # top 24 bits: exact in float32
    return bits.astype(np.float32) / np.float32(1 << 24)


def sample_factors(seed: int, indices: np.ndarray) -> np.ndarray:
    """Factors float32 (N, F) for the given face indices; row i depends only on (seed, indices[i])."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(f"indices must be a 1-D integer array, got dtype {indices.dtype} shape {indices.shape}")
    if indices.size and indices.min() < 0:
        raise ValueError("indices must be non-negative")
    u = _uniforms(int(seed), indices, len(FACTORS))
    factors = np.empty_like(u)
    for column, spec in enumerate(FACTORS):
        if spec.kind == "categorical":
            factors[:, column] = np.minimum(np.floor(u[:, column] * spec.levels), spec.levels - 1)
        else:
            factors[:, column] = np.float32(spec.low) + u[:, column] * np.float32(spec.high - spec.low)
    return factors


def make_synthetic_faces(n: int, seed: int = 0, image_size: int = 64,
                         start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, 3, H, W) and factors float32 (n, F) for face indices start .. start + n - 1."""
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be non-negative, got n={n}, start={start}")
    factors = sample_factors(seed, np.arange(start, start + n, dtype=np.int64))
    return render_faces(factors, image_size), factors


# ---------------------------------------------------------------- rendering: public entry

def render_faces(factors: np.ndarray, image_size: int = 64) -> np.ndarray:
    """Draw one face per factor row: uint8 (N, 3, image_size, image_size). Deterministic."""
    factors = np.asarray(factors, dtype=np.float32)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise ValueError(f"factors must have shape (N, {len(FACTORS)}) in FACTOR_NAMES order, got {factors.shape}")
    if not np.isfinite(factors).all():
        raise ValueError("factors contain NaN or infinite values")
    if int(image_size) != image_size or image_size < 8:
        raise ValueError(f"image_size must be an integer >= 8, got {image_size!r}")
    image_size = int(image_size)
    grid = _PixelGrid(image_size)
    out = np.empty((len(factors), 3, image_size, image_size), dtype=np.uint8)
    for begin in range(0, len(factors), CHUNK_SIZE):
        chunk = factors[begin:begin + CHUNK_SIZE]
        image = _render_chunk(_Layout.from_factors(chunk), grid)
        np.multiply(image, 255.0, out=image)
        np.add(image, 0.5, out=image)
        np.clip(image, 0.0, 255.0, out=image)
        out[begin:begin + len(chunk)] = image.astype(np.uint8)
    return out


# ---------------------------------------------------------------- geometry shared by all faces

class _PixelGrid:
    """Pixel-centre coordinates in world units ([-1, 1] across the image) and the ramp scale for anti-aliasing."""

    def __init__(self, image_size: int) -> None:
        centres = ((np.arange(image_size, dtype=np.float32) + 0.5) * (2.0 / image_size) - 1.0) * _ZOOM
        self.x = centres[None, None, :]                      # (1, 1, W)
        self.y = centres[None, :, None]                      # (1, H, 1)
        self.per_pixel = np.float32(image_size / (2.0 * _ZOOM))   # world distance -> pixels
        self.backdrop = (1.06 - 0.12 * (centres[:, None] + 1.0) / 2.0) * np.ones_like(centres)[None, :]


def _col(values: np.ndarray) -> np.ndarray:
    """Per-face scalars (B,) -> (B, 1, 1) so they broadcast over the pixel grid."""
    return values.astype(np.float32)[:, None, None]


def _ramp(colors: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp: t (B,) in [0, 1] -> (B, 3, 1, 1)."""
    position = np.clip(t, 0.0, 1.0) * (len(colors) - 1)
    lower = np.minimum(np.floor(position).astype(np.int64), len(colors) - 2)
    weight = (position - lower)[:, None].astype(np.float32)
    rgb = colors[lower] * (1.0 - weight) + colors[lower + 1] * weight
    return rgb[:, :, None, None]


def _hue_to_rgb(hue: np.ndarray, saturation: float, value: float) -> np.ndarray:
    """HSV -> RGB for a fixed saturation and value: hue (B,) in [0, 1] -> (B, 3)."""
    k = (np.array([5.0, 3.0, 1.0], dtype=np.float32)[None, :] + hue[:, None] * 6.0) % 6.0
    return value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


@dataclass(frozen=True)
class _Layout:
    """Where and how big every part is, per face: arrays of shape (B, 1, 1) (colours (B, 3, 1, 1))."""
    cx: np.ndarray
    cy: np.ndarray
    half_width: np.ndarray
    half_length: np.ndarray
    eye_y: np.ndarray
    eye_dx: np.ndarray
    eye_ry: np.ndarray
    gaze: np.ndarray
    brow_tilt: np.ndarray
    mouth_half_width: np.ndarray
    mouth_depth: np.ndarray
    hairline: tuple[np.ndarray, np.ndarray, np.ndarray]   # hairline y = cy + h0 + h1 * dx + h2 * dx^2 * half_length
    long_hair: np.ndarray                                 # 1 or 0
    bun_radius: np.ndarray                                # negative when the style has no bun
    glasses: np.ndarray                                   # 1 or 0
    light: tuple[np.ndarray, np.ndarray, np.ndarray]      # unit vector towards the light (x, y, z)
    skin: np.ndarray
    hair: np.ndarray
    background: np.ndarray

    @staticmethod
    def from_factors(f: np.ndarray) -> _Layout:
        def get(name: str) -> np.ndarray:
            return f[:, FACTOR_NAMES.index(name)]

        style = np.clip(np.rint(get("hair_style")), 0, len(HAIR_STYLES) - 1).astype(np.int64)
        half_length = _col(0.47 + 0.21 * get("face_length"))
        cy = _col(0.02 + 0.09 * get("head_y"))
        # Light from up to ~60 degrees left or right, slightly above; no trig so images match bit for bit everywhere.
        light_x = 0.87 * get("light_dir")
        light_y = np.full_like(light_x, -0.3)
        light = (light_x, light_y, np.sqrt(1.0 - np.square(light_x) - np.square(light_y)))
        return _Layout(
            cx=_col(0.11 * get("head_x")), cy=cy,
            half_width=_col(0.37 + 0.20 * get("face_width")), half_length=half_length,
            eye_y=cy - 0.01, eye_dx=_col(0.15 + 0.12 * get("eye_spacing")),
            eye_ry=_col(0.05 + 0.055 * get("eye_size")),
            gaze=_col(get("gaze_x")), brow_tilt=_col(get("brow_tilt")),
            mouth_half_width=_col(0.06 + 0.19 * get("mouth_width")),
            mouth_depth=_col(0.025 + 0.085 * get("mouth_curve")),   # crowds lean cheerful
            hairline=_hairline(style, half_length),
            long_hair=_col((style == 1).astype(np.float32)),
            bun_radius=_col(np.where(style == 2, 0.17, -1.0)),
            glasses=_col(np.rint(get("glasses"))),
            light=tuple(_col(component) for component in light),
            skin=_ramp(_SKIN_RAMP, get("skin_tone")),
            hair=_ramp(_HAIR_RAMP, get("hair_color")),
            background=_hue_to_rgb(0.8 * get("background_hue"), 0.38, 0.88)[:, :, None, None],   # no wrap-around
        )


def _hairline(style: np.ndarray, half_length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-style hairline curve coefficients (relative to the head centre): short, long, bun, fringe."""
    top = -half_length[:, 0, 0]
    h0 = np.select([style == 0, style == 1, style == 2], [0.55 * top, 0.62 * top, 0.75 * top], -0.29)
    h1 = np.where(style == 3, 0.22, 0.0)                       # the fringe is swept to one side
    h2 = np.select([style == 0, style == 1, style == 2], [2.2, 3.0, 1.2], 0.3)
    return _col(h0), _col(h1), _col(h2)


# ---------------------------------------------------------------- signed distances and compositing

def _ellipse(dx: np.ndarray, dy: np.ndarray, rx, ry) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse (exact for circles; good enough for a 1-px ramp)."""
    r = np.sqrt(np.square(dx / rx) + np.square(dy / ry))
    return (r - 1.0) * np.minimum(rx, ry)


def _rounded_box(dx: np.ndarray, dy: np.ndarray, half_x, half_y, radius) -> np.ndarray:
    qx = np.abs(dx) - (half_x - radius)
    qy = np.abs(dy) - (half_y - radius)
    outside = np.sqrt(np.square(np.maximum(qx, 0.0)) + np.square(np.maximum(qy, 0.0)))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - radius


def _arc(dx: np.ndarray, dy: np.ndarray, half_width, depth, thickness) -> np.ndarray:
    """Thick parabolic stroke y = depth * (1 - (x / half_width)^2) for |x| <= half_width (smile when depth > 0)."""
    xc = np.clip(dx, -half_width, half_width)
    t = xc / half_width
    off_curve = dy - depth * (1.0 - np.square(t))
    slope = -2.0 * depth * t / half_width
    across = off_curve / np.sqrt(1.0 + np.square(slope))
    along = dx - xc
    return np.sqrt(np.square(across) + np.square(along)) - thickness


def _segment(px: np.ndarray, py: np.ndarray, ax, ay, bx, by, thickness) -> np.ndarray:
    """Signed distance to a capsule (segment a-b with round ends)."""
    ux, uy = bx - ax, by - ay
    rx, ry = px - ax, py - ay
    t = np.clip((rx * ux + ry * uy) / (ux * ux + uy * uy), 0.0, 1.0)
    return np.sqrt(np.square(rx - t * ux) + np.square(ry - t * uy)) - thickness


def _coverage(distance: np.ndarray, grid: _PixelGrid) -> np.ndarray:
    """Signed distance -> pixel coverage in [0, 1] with a ramp one pixel wide centred on the edge."""
    coverage = distance * -grid.per_pixel
    coverage += 0.5
    return np.clip(coverage, 0.0, 1.0, out=coverage)


def _paint(image: np.ndarray, coverage: np.ndarray, color: np.ndarray) -> None:
    """Alpha-composite a colour ((3,), (B, 3, 1, 1) or (B, 3, H, W)) over image (B, 3, H, W) in place."""
    if color.ndim == 1:
        color = color[None, :, None, None]
    delta = color - image
    delta *= coverage[:, None]
    image += delta


# ---------------------------------------------------------------- the face, part by part

def _render_chunk(lay: _Layout, grid: _PixelGrid) -> np.ndarray:
    image = lay.background * grid.backdrop          # (B, 3, H, W)
    dx = grid.x - lay.cx                            # (B, 1, W): horizontal offset from the head centre
    dy = grid.y - lay.cy                            # (B, H, 1)
    side = np.where(dx >= 0.0, np.float32(1.0), np.float32(-1.0))
    mirrored_x = np.abs(dx)                         # symmetric parts (eyes, ears, brows) are drawn once, mirrored
    _draw_body(image, lay, grid, dx, dy, mirrored_x)
    light = _draw_head(image, lay, grid, dx, dy)
    _draw_mouth_and_nose(image, lay, grid, dx, dy)
    _draw_eyes(image, lay, grid, mirrored_x, side)
    _draw_brows(image, lay, grid, mirrored_x)
    _draw_front_hair(image, lay, grid, dx, dy, light)
    _draw_glasses(image, lay, grid, dx, mirrored_x)
    return image


def _draw_body(image, lay: _Layout, grid: _PixelGrid, dx, dy, mirrored_x) -> None:
    """Shoulders, neck, ears and (for long hair) the hair that falls behind the head."""
    chin = lay.half_length
    shoulders = _ellipse(dx, dy - (chin + 0.62), 0.85, 0.50)
    _paint(image, _coverage(shoulders, grid), _SHIRT)
    neck = _rounded_box(dx, dy - chin * 0.95, 0.16, 0.28, 0.05)
    _paint(image, _coverage(neck, grid), lay.skin * 0.72)
    ears = _ellipse(mirrored_x - lay.half_width * 0.96, dy - 0.05, 0.075, 0.12)
    _paint(image, _coverage(ears, grid), lay.skin * 0.88)
    # Long hair: a rounded dome over the head that falls straight down to below the chin.
    fall = _rounded_box(dx, dy - chin * 0.42, lay.half_width + 0.11, chin * 0.58, 0.2)
    dome = _ellipse(dx, dy + 0.035, lay.half_width + 0.11, chin + 0.09)
    back_hair = np.minimum(fall, dome)
    _paint(image, _coverage(back_hair, grid) * lay.long_hair, lay.hair * 0.82)


def _draw_head(image, lay: _Layout, grid: _PixelGrid, dx, dy) -> np.ndarray:
    """Egg-shaped head with Lambert shading; returns the light term (B, H, W) for reuse by the hair."""
    v = dy / lay.half_length
    egg_width = lay.half_width * (1.0 - 0.13 * v)          # narrower jaw, wider forehead
    u = dx / egg_width
    radius_sq = np.square(u) + np.square(v)                 # 1 on the outline
    head = (np.sqrt(radius_sq) - 1.0) * np.minimum(lay.half_width, lay.half_length)
    normal_z = np.sqrt(np.maximum(1.0 - radius_sq, 0.0))    # the head as a half ellipsoid facing the viewer
    lx, ly, lz = lay.light
    light = np.clip(u * lx + v * ly + normal_z * lz, 0.0, 1.0)
    shading = 0.58 + 0.52 * light
    _paint(image, _coverage(head, grid), lay.skin * shading[:, None])
    return light


def _draw_mouth_and_nose(image, lay: _Layout, grid: _PixelGrid, dx, dy) -> None:
    nose = _arc(dx, dy - 0.13, 0.045, 0.03, 0.016)
    _paint(image, _coverage(nose, grid), lay.skin * 0.68)
    mouth = _arc(dx, dy - 0.30 + 0.5 * lay.mouth_depth, lay.mouth_half_width, lay.mouth_depth, 0.03)
    _paint(image, _coverage(mouth, grid), _LIPS)


def _draw_eyes(image, lay: _Layout, grid: _PixelGrid, mirrored_x, side) -> None:
    """Outlined eye whites, irises shifted by gaze, pupils and a highlight, clipped to the eye white."""
    ex = mirrored_x - lay.eye_dx                    # x from each eye centre, mirrored (positive = outwards)
    ey = grid.y - lay.eye_y
    eye_rx = lay.eye_ry * 1.25
    eye = _ellipse(ex, ey, eye_rx, lay.eye_ry)
    _paint(image, _coverage(eye - 0.022, grid), _LINE)
    inside_eye = _coverage(eye, grid)
    _paint(image, inside_eye, _EYE_WHITE)
    iris_r = lay.eye_ry * 0.68
    gaze_shift = lay.gaze * (eye_rx - iris_r * 0.8)     # same world direction for both eyes
    ix = ex - side * gaze_shift
    iris_distance = np.sqrt(np.square(ix) + np.square(ey))
    _paint(image, _coverage(iris_distance - iris_r, grid) * inside_eye, _IRIS)
    _paint(image, _coverage(iris_distance - iris_r * 0.5, grid) * inside_eye, _PUPIL)
    glint = np.sqrt(np.square(ix + side * (0.4 * iris_r)) + np.square(ey + 0.4 * iris_r)) - 0.25 * iris_r
    _paint(image, _coverage(glint, grid) * inside_eye, _EYE_WHITE)


def _draw_brows(image, lay: _Layout, grid: _PixelGrid, mirrored_x) -> None:
    brow_y = lay.eye_y - lay.eye_ry - 0.075
    inner_x, outer_x = lay.eye_dx - 0.08, lay.eye_dx + 0.08
    tilt = lay.brow_tilt * 0.06                       # positive: inner ends down (angry)
    brows = _segment(mirrored_x, grid.y, inner_x, brow_y + tilt, outer_x, brow_y - tilt, 0.024)
    _paint(image, _coverage(brows, grid), lay.hair * 0.7)


def _draw_front_hair(image, lay: _Layout, grid: _PixelGrid, dx, dy, light) -> None:
    """Hair cap above the hairline (its shape depends on the style) plus a bun for the bun style."""
    h0, h1, h2 = lay.hairline
    below_hairline = dy - (h0 + h1 * dx + h2 * np.square(dx) * lay.half_length)
    cap = np.maximum(_ellipse(dx, dy + 0.035, lay.half_width * 1.1, lay.half_length + 0.06), below_hairline)
    bun = np.sqrt(np.square(dx) + np.square(dy + lay.half_length + 0.07)) - lay.bun_radius
    hair = np.minimum(cap, bun)
    _paint(image, _coverage(hair, grid), lay.hair * (0.7 + 0.4 * light)[:, None])


def _draw_glasses(image, lay: _Layout, grid: _PixelGrid, dx, mirrored_x) -> None:
    ex = mirrored_x - lay.eye_dx
    ey = grid.y - lay.eye_y
    lens_r = np.minimum(lay.eye_ry * 1.25 + 0.05, lay.eye_dx - 0.03)
    rims = np.abs(np.sqrt(np.square(ex) + np.square(ey)) - lens_r) - 0.016
    bridge = _segment(dx, ey, -(lay.eye_dx - lens_r), 0.0, lay.eye_dx - lens_r, 0.0, 0.016)
    frames = np.minimum(rims, bridge) + (1.0 - lay.glasses) * 10.0     # pushed far outside when absent
    _paint(image, _coverage(frames, grid), _FRAME)
