"""The built-in Silverstone Grand Prix circuit (5,891 m, run clockwise).

The circuit is described by a compact table of control points on the centre line, joined by
a periodic cubic spline in :class:`circuit.track.Track`. Each row holds the centre-line
position, the track width to the right and left, and the lateral offset of a racing line
from the centre line (positive to the left). The car model drives the racing line's
curvature, which is much gentler than the centre line's in the fast corners (Abbey, Copse,
Stowe are taken close to flat out on a line that uses the full width of the road).

The control points were fitted to the public TUMFTM racetrack-database centre line and
racing line of Silverstone (credit: TUMFTM racetrack-database, LGPL-3.0; centre line from
OpenStreetMap data, (c) OpenStreetMap contributors, ODbL).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from circuit.track import DEFAULT_SPACING_M, Corner, Track

NAME = "Silverstone"
OFFICIAL_LENGTH_M = 5891.0

# (x_m, y_m, width_right_m, width_left_m, racing_line_offset_m), in driving order; the first
# row is the start/finish line.
CONTROL_POINTS: tuple[tuple[float, float, float, float, float], ...] = (
    (3.4, -0.5, 6.6, 6.5, 5.8),
    (85.5, 113.0, 6.6, 6.6, 5.6),
    (168.1, 227.2, 6.7, 6.6, 5.8),
    (216.4, 294.7, 6.7, 6.8, 0.7),
    (231.4, 314.7, 6.4, 6.8, -5.4),
    (253.3, 325.9, 7.0, 6.9, -4.8),
    (280.7, 331.5, 6.8, 7.2, -2.4),
    (325.7, 330.8, 6.9, 7.1, 2.2),
    (397.5, 326.7, 6.9, 6.9, 3.9),
    (444.4, 326.4, 6.9, 7.0, 5.8),
    (483.2, 335.7, 7.0, 6.8, 5.8),
    (518.3, 356.7, 7.0, 7.0, 3.4),
    (582.8, 410.5, 7.6, 7.1, 4.2),
    (640.4, 460.1, 7.8, 7.5, 5.6),
    (656.6, 473.4, 7.7, 7.8, 0.4),
    (673.8, 480.8, 7.5, 7.9, -5.9),
    (692.0, 474.5, 7.6, 7.7, -6.6),
    (702.1, 458.7, 7.8, 7.7, -3.8),
    (709.2, 437.9, 7.6, 7.7, -2.7),
    (724.0, 393.3, 7.6, 7.5, -6.5),
    (730.3, 375.4, 7.7, 7.4, -3.0),
    (739.6, 360.2, 6.8, 6.7, 4.1),
    (755.7, 356.2, 7.3, 6.6, 5.3),
    (770.0, 366.9, 7.5, 7.0, -0.3),
    (781.0, 383.4, 7.0, 7.2, -4.2),
    (791.4, 411.5, 7.0, 7.0, -6.3),
    (806.0, 476.8, 7.1, 6.7, -3.4),
    (808.2, 511.7, 6.9, 6.8, 1.8),
    (805.5, 535.4, 6.7, 6.7, 5.7),
    (791.0, 555.4, 6.6, 7.0, 2.2),
    (769.6, 574.9, 7.1, 6.6, -3.3),
    (680.1, 651.8, 7.7, 7.4, -6.8),
    (573.1, 743.7, 8.3, 8.3, -6.8),
    (466.9, 835.0, 7.7, 7.5, -6.3),
    (359.5, 926.3, 7.0, 6.7, -6.3),
    (315.2, 963.8, 7.0, 6.7, -2.7),
    (288.9, 979.5, 6.9, 6.8, 1.3),
    (259.4, 984.7, 6.9, 6.9, 2.8),
    (233.9, 980.8, 6.6, 6.8, 4.8),
    (213.5, 965.4, 6.5, 6.6, 5.1),
    (205.4, 941.1, 6.9, 6.7, 1.3),
    (203.5, 913.2, 6.9, 6.7, -2.1),
    (200.4, 877.3, 6.7, 6.9, -4.2),
    (191.0, 850.1, 6.7, 6.6, -5.9),
    (171.3, 832.0, 6.6, 7.0, -5.9),
    (145.5, 825.5, 6.8, 7.1, -5.9),
    (121.2, 833.6, 6.9, 6.8, -5.5),
    (101.9, 853.5, 6.7, 6.7, -5.8),
    (93.9, 881.0, 6.7, 6.6, -5.1),
    (100.2, 909.0, 6.8, 6.8, 0.3),
    (116.6, 944.4, 6.8, 6.6, 5.5),
    (153.7, 1025.3, 6.0, 6.5, 0.8),
    (180.0, 1065.3, 6.6, 6.6, -2.0),
    (213.5, 1099.6, 7.1, 7.1, -3.2),
    (238.2, 1121.2, 6.8, 7.2, -5.9),
    (269.2, 1135.3, 7.2, 7.0, -4.0),
    (321.8, 1146.9, 7.1, 7.3, 2.1),
    (443.7, 1163.5, 6.0, 6.3, 5.5),
    (583.7, 1180.1, 5.5, 5.8, 5.1),
    (682.2, 1190.1, 5.9, 5.8, 0.8),
    (719.1, 1191.5, 6.2, 6.8, -4.6),
    (755.7, 1181.5, 7.0, 7.2, -5.5),
    (786.6, 1165.4, 7.1, 7.1, -6.2),
    (807.4, 1144.1, 6.5, 7.1, -4.6),
    (819.4, 1116.7, 6.9, 7.0, 1.7),
    (844.5, 1038.6, 7.1, 7.2, 5.9),
    (868.7, 923.2, 7.0, 6.8, -2.5),
    (880.4, 793.8, 6.8, 6.7, -5.3),
    (886.2, 712.0, 6.8, 6.9, 3.2),
    (898.4, 663.7, 6.9, 6.7, 6.0),
    (918.9, 626.0, 7.0, 6.8, 1.2),
    (934.2, 599.2, 7.1, 6.9, -5.4),
    (935.8, 569.6, 6.9, 6.7, -4.8),
    (926.5, 539.0, 7.1, 6.9, -0.1),
    (909.6, 486.7, 7.2, 6.9, 3.5),
    (903.0, 447.3, 7.1, 7.0, 5.5),
    (909.3, 410.2, 7.3, 7.0, 5.9),
    (929.6, 378.3, 7.5, 6.8, 1.9),
    (951.2, 350.8, 6.8, 6.8, -4.6),
    (960.6, 319.5, 6.9, 6.9, -6.1),
    (955.0, 287.4, 6.6, 7.3, -5.6),
    (935.4, 260.0, 7.0, 6.7, -2.8),
    (904.2, 236.5, 7.2, 7.0, 1.7),
    (863.3, 211.5, 7.1, 7.0, 6.1),
    (836.3, 186.4, 7.3, 7.0, 5.2),
    (817.8, 153.3, 6.7, 6.5, -1.4),
    (764.4, 48.1, 6.7, 6.6, -5.6),
    (701.0, -77.9, 6.5, 6.6, -1.3),
    (637.5, -202.6, 6.6, 6.4, 4.6),
    (582.4, -313.8, 7.2, 7.3, 5.4),
    (537.7, -394.1, 6.8, 7.1, 5.6),
    (486.0, -475.0, 6.9, 6.9, 2.9),
    (464.1, -504.7, 6.8, 6.7, -3.6),
    (436.4, -523.9, 7.0, 6.5, -6.1),
    (402.3, -531.5, 6.9, 6.8, -5.5),
    (369.0, -527.0, 6.7, 7.0, -5.9),
    (340.5, -508.8, 6.9, 6.9, -4.5),
    (319.0, -479.0, 7.1, 6.7, 0.6),
    (294.4, -430.9, 7.1, 6.6, 5.9),
    (248.4, -364.4, 7.0, 6.9, 3.9),
    (175.7, -287.3, 7.2, 7.6, -4.4),
    (123.9, -230.4, 7.1, 6.7, -5.1),
    (111.4, -216.0, 7.2, 6.4, 0.3),
    (97.1, -206.1, 7.0, 6.8, 5.9),
    (79.7, -209.0, 8.1, 7.1, 4.7),
    (65.0, -220.8, 7.3, 7.5, -0.6),
    (47.8, -234.4, 6.7, 6.9, -5.0),
    (26.9, -239.9, 7.2, 7.0, -5.9),
    (8.2, -231.3, 7.0, 7.2, -1.0),
    (-7.2, -215.6, 7.0, 6.9, 4.7),
    (-33.1, -180.1, 6.9, 7.0, 6.0),
    (-53.2, -133.4, 6.6, 7.1, 0.7),
    (-58.9, -108.0, 6.7, 6.8, -4.1),
    (-55.9, -84.6, 6.6, 6.6, -4.9),
    (-42.2, -63.7, 6.7, 6.3, 0.9),
)

# Named corners and straights in lap order, as centre-line distance ranges (metres from the
# start/finish line). Becketts is the right-left-right complex (turns 11 to 13) and Club the
# double right (turns 17 and 18), so the 15 corners hold the circuit's 18 turns.
CORNERS: tuple[Corner, ...] = (
    Corner("Abbey", 330.0, 490.0, "right"),
    Corner("Farm", 560.0, 730.0, "left"),
    Corner("Village", 830.0, 965.0, "right"),
    Corner("The Loop", 965.0, 1120.0, "left"),
    Corner("Aintree", 1150.0, 1320.0, "left"),
    Corner("Wellington Straight", 1320.0, 1860.0, "straight"),
    Corner("Brooklands", 1860.0, 2065.0, "left"),
    Corner("Luffield", 2065.0, 2330.0, "right"),
    Corner("Woodcote", 2400.0, 2660.0, "right"),
    Corner("Copse", 2950.0, 3250.0, "right"),
    Corner("Maggotts", 3540.0, 3670.0, "left"),
    Corner("Becketts", 3670.0, 4115.0, "right"),
    Corner("Chapel", 4115.0, 4250.0, "left"),
    Corner("Hangar Straight", 4250.0, 4930.0, "straight"),
    Corner("Stowe", 4930.0, 5200.0, "right"),
    Corner("Vale", 5440.0, 5560.0, "left"),
    Corner("Club", 5560.0, 5850.0, "right"),
)

# Sector 2 starts on the Wellington Straight, sector 3 on the Hangar Straight.
SECTOR_STARTS_M = (0.0, 1600.0, 4400.0)

# DRS zones: the Wellington Straight (from Aintree's exit) and the Hangar Straight (from
# Chapel's exit), each until the braking point of the next corner.
DRS_ZONES_M = ((1330.0, 1850.0), (4260.0, 4920.0))


@lru_cache(maxsize=4)
def silverstone(spacing_m: float = DEFAULT_SPACING_M) -> Track:
    """The built-in Silverstone track, resampled every ``spacing_m`` metres (cached)."""
    table = np.asarray(CONTROL_POINTS)
    return Track.from_points(
        table[:, 0],
        table[:, 1],
        name=NAME,
        spacing_m=spacing_m,
        width_right_m=table[:, 2],
        width_left_m=table[:, 3],
        line_offset_m=table[:, 4],
        line_smoothing_m=8.0,
        sector_starts_m=SECTOR_STARTS_M,
        corners=CORNERS,
        drs_zones_m=DRS_ZONES_M,
    )
