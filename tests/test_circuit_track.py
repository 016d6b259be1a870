"""circuit: track geometry, the built-in Silverstone and the TUMFTM CSV loader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from circuit import Track, load_track_csv, silverstone
from circuit.silverstone import CONTROL_POINTS, OFFICIAL_LENGTH_M
from runtime.errors import ConfigError
from tests.circuit_samples import RADIUS_M, STRAIGHT_M, write_oval_csv

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "silverstone"
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "centerline_widths.csv").is_file(),
    reason=f"reference circuit data not available at {REFERENCE}",
)

CORNER_ORDER = [
    "Abbey",
    "Farm",
    "Village",
    "The Loop",
    "Aintree",
    "Wellington Straight",
    "Brooklands",
    "Luffield",
    "Woodcote",
    "Copse",
    "Maggotts",
    "Becketts",
    "Chapel",
    "Hangar Straight",
    "Stowe",
    "Vale",
    "Club",
]


def circle_points(radius: float = 100.0, n: int = 40, clockwise: bool = False) -> np.ndarray:
    angle = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    if clockwise:
        angle = -angle
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


# ---------------------------------------------------------------------- Track basics
def test_circle_geometry_is_exact() -> None:
    pts = circle_points(100.0)
    track = Track.from_points(pts[:, 0], pts[:, 1], spacing_m=1.0)
    assert track.length_m == pytest.approx(2 * np.pi * 100.0, rel=1e-4)
    assert track.spacing_m == pytest.approx(track.length_m / track.n_points)
    assert track.spacing_m == pytest.approx(1.0, rel=1e-3)
    # Counter-clockwise circle: constant curvature +1/R everywhere.
    assert np.allclose(track.centre_curvature, 0.01, rtol=5e-3)
    assert np.allclose(track.curvature, 0.01, rtol=5e-3)
    assert not track.is_clockwise
    x, y = track.position(np.array([0.0, track.length_m / 4]))
    assert x[0] == pytest.approx(100.0) and y[0] == pytest.approx(0.0, abs=1e-9)
    assert x[1] == pytest.approx(0.0, abs=0.05) and y[1] == pytest.approx(100.0, abs=0.05)


def test_lookups_wrap_around_the_lap() -> None:
    track = silverstone()
    d = np.array([0.0, 123.4, 2500.0, track.length_m - 0.5])
    x0, y0 = track.position(d)
    x1, y1 = track.position(d + track.length_m)
    assert np.allclose(x0, x1) and np.allclose(y0, y1)
    assert np.allclose(track.curvature_at(d), track.curvature_at(d - track.length_m))
    # Consecutive samples are spacing_m apart along the line.
    steps = np.hypot(np.diff(track.x), np.diff(track.y))
    assert np.allclose(steps, track.spacing_m, rtol=0.02)


def test_clockwise_circle_has_negative_curvature() -> None:
    pts = circle_points(50.0, clockwise=True)
    track = Track.from_points(pts[:, 0], pts[:, 1])
    assert track.is_clockwise
    assert np.all(track.curvature < 0)


# ---------------------------------------------------------------------- Silverstone
def test_silverstone_length_direction_and_size_of_table() -> None:
    track = silverstone()
    assert abs(track.length_m - OFFICIAL_LENGTH_M) / OFFICIAL_LENGTH_M < 0.005
    assert track.is_clockwise
    assert 60 <= len(CONTROL_POINTS) <= 150
    # Start/finish at distance 0 is the first control point.
    x, y = track.position(0.0)
    assert float(x) == pytest.approx(CONTROL_POINTS[0][0])
    assert float(y) == pytest.approx(CONTROL_POINTS[0][1])


def test_silverstone_corners_in_order_and_turning_the_right_way() -> None:
    track = silverstone()
    assert [c.name for c in track.corners] == CORNER_ORDER
    starts = [c.start_m for c in track.corners]
    assert starts == sorted(starts)
    for corner in track.corners:
        assert corner.end_m > corner.start_m
        mask = (track.s >= corner.start_m) & (track.s < corner.end_m)
        k = track.curvature[mask]
        if corner.direction == "straight":
            assert np.abs(k).max() < 1 / 250.0, corner.name  # radius above 250 m
        else:
            sign = 1.0 if corner.direction == "left" else -1.0
            assert sign * k.mean() > 0, corner.name
            assert np.abs(k).max() > 1 / 500.0, corner.name
    assert track.corner_at(1020.0) == "The Loop"
    assert track.corner_at(4600.0) == "Hangar Straight"
    assert track.corner_at(100.0) is None


def test_silverstone_slowest_corner_is_the_loop_and_curvature_is_smooth() -> None:
    track = silverstone()
    k = np.abs(track.curvature)
    tightest = track.corner_at(float(track.s[np.argmax(k)]))
    assert tightest in ("The Loop", "Village", "Vale")
    assert 1 / k.max() > 20.0  # no kink tighter than a 20 m radius
    # Smooth: curvature changes by less than 0.002 1/m per metre anywhere.
    dk = np.abs(np.diff(np.append(track.curvature, track.curvature[0]))) / track.spacing_m
    assert dk.max() < 2e-3
    # The driving line is shorter than the centre line (it cuts the corners).
    driven = float(np.sum(track.spacing_m / track.progress_ratio))
    assert 0.97 * track.length_m < driven < track.length_m


def test_silverstone_sectors_and_drs_zones() -> None:
    track = silverstone()
    sectors = track.sector_at(track.s)
    assert sectors[0] == 1 and sectors[-1] == 3
    assert set(np.unique(sectors)) == {1, 2, 3}
    assert np.all(np.diff(sectors) >= 0)  # 1 -> 2 -> 3 along the lap
    assert len(track.drs_zones_m) == 2
    wellington = track.corner("Wellington Straight")
    hangar = track.corner("Hangar Straight")
    assert track.drs_zone_at(np.array([1600.0]))[0]
    assert track.drs_zone_at(np.array([4600.0]))[0]
    assert not track.drs_zone_at(np.array([1020.0]))[0]
    for (start, end), straight in zip(track.drs_zones_m, (wellington, hangar), strict=True):
        assert straight.start_m - 20 <= start < end <= straight.end_m + 20


def _rigid_fit_distances(model: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distances from model points to the reference after the best rotation+translation.

    Iterative closest point: match each model point to its nearest reference point, solve
    the rigid transform (Kabsch), repeat.
    """
    moved = model.copy()
    for _ in range(5):
        sample = moved[::4]
        target = reference[_nearest(sample, reference)]
        mc, tc = sample.mean(axis=0), target.mean(axis=0)
        h = (sample - mc).T @ (target - tc)
        u, _, vt = np.linalg.svd(h)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        rot = vt.T @ np.diag([1.0, d]) @ u.T
        moved = (moved - mc) @ rot.T + tc
    return np.linalg.norm(moved - reference[_nearest(moved, reference)], axis=1)


def _nearest(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    out = np.empty(len(points), dtype=np.intp)
    for a in range(0, len(points), 512):
        block = points[a : a + 512]
        d2 = ((block[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
        out[a : a + 512] = d2.argmin(axis=1)
    return out


@needs_reference
def test_silverstone_shape_matches_the_real_centre_line() -> None:
    reference = load_track_csv(REFERENCE / "centerline_widths.csv", spacing_m=1.0)
    ref = np.column_stack([reference.x, reference.y])
    track = silverstone()
    model = np.column_stack([track.x, track.y])
    dist = _rigid_fit_distances(model, ref)
    assert dist.mean() < 15.0
    assert dist.max() < 40.0
    # The table was fitted to this line, so it is in fact much closer.
    assert dist.mean() < 2.0
    assert abs(track.length_m - reference.length_m) < 10.0


@needs_reference
def test_driving_line_follows_the_reference_racing_line() -> None:
    race = np.loadtxt(REFERENCE / "raceline.csv", delimiter=",", comments="#")
    track = silverstone()
    # Driven length of the model's racing line against the reference racing line.
    driven = float(np.sum(track.spacing_m / track.progress_ratio))
    closed = np.vstack([race, race[:1]])
    ref_length = float(np.sum(np.hypot(*np.diff(closed, axis=0).T)))
    assert abs(driven - ref_length) / ref_length < 0.01


# ---------------------------------------------------------------------- CSV loader
def write(tmp_path: Path, text: str, name: str = "track.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def circle_csv(header: str | None, widths: bool = True, n: int = 36) -> str:
    lines = [] if header is None else [header]
    for x, y in circle_points(200.0, n, clockwise=True):
        lines.append(f"{x:.4f},{y:.4f},5.0,5.5" if widths else f"{x:.4f},{y:.4f}")
    return "\n".join(lines) + "\n"


def test_loader_reads_tumftm_format_with_hash_header(tmp_path: Path) -> None:
    path = write(tmp_path, circle_csv("# x_m,y_m,w_tr_right_m,w_tr_left_m"))
    track = load_track_csv(path)
    assert track.name == "track"
    assert track.length_m == pytest.approx(2 * np.pi * 200.0, rel=1e-3)
    assert np.allclose(track.width_right, 5.0) and np.allclose(track.width_left, 5.5)
    assert track.is_clockwise


def test_loader_accepts_plain_header_no_header_and_comments(tmp_path: Path) -> None:
    plain = load_track_csv(write(tmp_path, circle_csv("x_m,y_m", widths=False), "a.csv"))
    bare = load_track_csv(write(tmp_path, "# Test ring\n" + circle_csv(None), "b.csv"))
    assert plain.length_m == pytest.approx(bare.length_m, rel=1e-9)
    assert np.allclose(plain.width_left, 6.0)  # default width when the file has none


def test_loader_closes_a_loop_that_repeats_its_first_point(tmp_path: Path) -> None:
    text = circle_csv("x_m,y_m", widths=False)
    first = text.splitlines()[1]
    closed = load_track_csv(write(tmp_path, text + first + "\n", "closed.csv"))
    open_ = load_track_csv(write(tmp_path, text, "open.csv"))
    assert closed.length_m == pytest.approx(open_.length_m)


@needs_reference
def test_loader_reads_the_reference_file() -> None:
    track = load_track_csv(REFERENCE / "centerline_widths.csv")
    assert track.length_m == pytest.approx(5886.8, abs=3.0)
    assert track.is_clockwise
    assert len(track.corners) >= 15  # detected as T1, T2, ...
    assert all(c.name.startswith("T") for c in track.corners)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x_m,y_m\n0,0\n10,0\n10,abc\n0,10\n", ":4: not a number"),
        ("x_m,y_m\n0,0\n10,0\n10,10,3\n0,10\n", ":4: expected 2 values, got 3"),
        ("x_m,y_m\n0,0\n10,0\n", "needs at least 4 points"),
        ("a,b\n0,0\n10,0\n10,10\n0,10\n", ":1: header lacks column(s) x_m, y_m"),
        ("x_m,y_m\n0,0\n10,0\n10,0\n10,10\n0,10\n", ":4: point repeats the previous point"),
        ("0,0,1\n10,0,1\n10,10,1\n0,10,1\n", ":1: expected 2 or 4 columns"),
        ("x_m,y_m,w_tr_right_m,w_tr_left_m\n0,0,1,1\n10,0,-1,1\n10,10,1,1\n0,10,1,1\n",
         ":3: w_tr_right_m must be positive"),
        ("x_m,y_m\n0,0\n10,0\n10,nan\n0,10\n", ":4: values must be finite"),
    ],
)  # fmt: skip
def test_loader_errors_name_file_line_and_reason(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text, "bad.csv")
    with pytest.raises(ConfigError) as info:
        load_track_csv(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert fragment in message
    assert "\n" not in message


def test_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="track file not found"):
        load_track_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------------- a circuit from a file
def test_a_file_circuit_has_three_equal_sectors(tmp_path: Path) -> None:
    track = load_track_csv(write_oval_csv(tmp_path / "oval.csv"))
    third = track.length_m / 3
    assert track.sector_starts_m == pytest.approx((0.0, third, 2 * third))
    d = np.array([0.0, third - 0.5, third + 0.5, 2 * third + 0.5, track.length_m - 0.5])
    assert track.sector_at(d).tolist() == [1, 1, 2, 3, 3]
    assert track.sector_at(d + track.length_m).tolist() == [1, 1, 2, 3, 3]  # next lap


def test_a_file_circuit_gets_drs_zones_on_its_two_straights(tmp_path: Path) -> None:
    track = load_track_csv(write_oval_csv(tmp_path / "oval.csv"))
    # The top straight runs from the end of the east half circle (200 m + pi * 80 m) for
    # 400 m; the bottom one from the end of the west half circle, through the line, to 200 m.
    top = (STRAIGHT_M / 2 + math.pi * RADIUS_M, 1.5 * STRAIGHT_M + math.pi * RADIUS_M)
    assert len(track.drs_zones_m) == 2
    (a_start, a_end), (b_start, b_end) = sorted(track.drs_zones_m, key=lambda z: z[0])
    # A zone is the later part of a straight, until its end (where the curve starts).
    assert top[0] < a_start < a_end <= top[1] + 20
    assert b_start > track.length_m - STRAIGHT_M / 2 and b_end <= STRAIGHT_M / 2 + 20  # wraps
    assert track.drs_zone_at(np.array([a_end - 5.0, 0.0, 300.0])).tolist() == [True, True, False]
    assert [c.direction for c in track.corners] == ["left", "left"]  # counter-clockwise
    assert not track.is_clockwise
