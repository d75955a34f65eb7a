"""Build far_east_outlines.json: the Far East's federal subjects, simplified and projected, for
the analytics map (issue 18, point 2). Run by hand, once; never at run time. See SOURCE.md.

    apt-get download qgis-common            # Debian 13: qgis-common_3.22.16+dfsg-1_all.deb
    dpkg-deb -x qgis-common_*_all.deb /tmp/qgis
    python -m farcare.analytics.data.build_outlines \\
        /tmp/qgis/usr/share/qgis/resources/data/world_map.gpkg

The input is QGIS's `world_map.gpkg`, layer `states_provinces`: Natural Earth's 1:10m
"Admin 1 – States, Provinces" v4.1.0 (public domain), generalised by QGIS and clipped at
±179.9° (README_world_map.md beside it). Pure Python (sqlite3 reads the GeoPackage): no GDAL,
no shapely. The steps:

1. Read each subject's polygons (WKB in the GeoPackage's geometry blobs), keyed by its
   `gn_name` (Natural Earth's `name` has flaws here: Magadan reads "Maga Buryatdan").
2. Join the pieces that the clip at ±179.9° cut apart (Chukotka's mainland, Wrangel Island)
   back into one ring each: a region is one shape, without a seam drawn down the antimeridian.
3. Project (Lambert conformal conic, `outlines.Lambert`; the same code places settlements).
4. Cut the rings into arcs where the set of subjects sharing an edge changes, and simplify each
   arc once (Douglas–Peucker in km, TOLERANCE_KM), so that two neighbours share the very same
   simplified border: no slivers or gaps between them. Islands smaller than MIN_ISLAND_KM2
   are left out.
5. Scale to WIDTH map units, round to whole units and write each subject as SVG path data in
   relative coordinates ("M x y l dx dy … z"), the smallest form a page can carry.

It ends by checking the result: every settlement of the network's register in these regions
(network/data/far_east_settlements.csv) must lie inside its region's simplified outline, or
within NEAR_UNITS of it (coastal towns on a simplified coast); it prints each one's place.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sqlite3
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from farcare.analytics.outlines import Frame, Lambert

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "far_east_outlines.json"
SETTLEMENTS = HERE.parent.parent / "network" / "data" / "far_east_settlements.csv"

# Natural Earth's gn_name → the region as the network's register names it, and its names.
SUBJECTS: dict[str, tuple[str, dict[str, str]]] = {
    "Chukotskiy Avtonomnyy Okrug": (
        "Chukotka",
        {"ru": "Чукотский АО", "ko": "추코트카 자치구", "en": "Chukotka"},
    ),
    "Kamtchatski Kray": (
        "Kamchatka",
        {"ru": "Камчатский край", "ko": "캄차카 지방", "en": "Kamchatka"},
    ),
    "Magadanskaya Oblast'": (
        "Magadan",
        {"ru": "Магаданская область", "ko": "마가단 주", "en": "Magadan"},
    ),
    "Respublika Sakha (Yakutiya)": (
        "Sakha",
        {"ru": "Республика Саха (Якутия)", "ko": "사하 공화국", "en": "Sakha (Yakutia)"},
    ),
    "Khabarovskiy Kray": (
        "Khabarovsk",
        {"ru": "Хабаровский край", "ko": "하바롭스크 지방", "en": "Khabarovsk Krai"},
    ),
    "Amurskaya Oblast'": ("Amur", {"ru": "Амурская область", "ko": "아무르 주", "en": "Amur"}),
    "Primorskiy Kray": (
        "Primorye",
        {"ru": "Приморский край", "ko": "연해주", "en": "Primorye"},
    ),
    "Sakhalinskaya Oblast'": (
        "Sakhalin",
        {"ru": "Сахалинская область", "ko": "사할린 주", "en": "Sakhalin"},
    ),
    # Between Khabarovsk and Amur: drawn so that the map has no hole there, though the
    # register has no settlement in it yet. The other subjects of the Far Eastern Federal
    # District (Buryatia, Zabaykalsky Krai) would only widen the map westwards; add them here
    # with their gn_name when the network reaches them.
    "Yevreyskaya Avtonomnaya Oblast'": (
        "Jewish AO",
        {"ru": "Еврейская АО", "ko": "유대인 자치주", "en": "Jewish Autonomous Oblast"},
    ),
}

# The Far East spans about 42° N to 77° N; standard parallels a sixth in from either edge.
LAMBERT = Lambert(lat1=50.0, lat2=70.0, lat0=60.0, lon0=150.0, radius_km=6371.0088)
WIDTH = 1000  # map units across the whole Far East
PAD_UNITS = 8
TOLERANCE_KM = 7.0
MIN_ISLAND_KM2 = 400.0
CLIP_LON = 179.9  # where QGIS's clip cut the subjects at the antimeridian
NEAR_UNITS = 2.0

Point = tuple[float, float]
Ring = list[Point]


def read_subjects(gpkg: Path) -> dict[str, list[Ring]]:
    """gn_name → the outer rings of its polygons (lon, lat), without the closing point."""
    found: dict[str, list[Ring]] = {}
    with sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT gn_name, geom FROM states_provinces WHERE adm0_a3 = 'RUS'"
        ).fetchall()
    for gn_name, blob in rows:
        if gn_name in SUBJECTS:
            if gn_name in found:
                raise SystemExit(f"{gn_name} appears twice")
            found[gn_name] = [polygon[0][:-1] for polygon in _geometry_polygons(blob)]
    missing = set(SUBJECTS) - set(found)
    if missing:
        raise SystemExit(f"not in the GeoPackage: {sorted(missing)}")
    return found


def _geometry_polygons(blob: bytes) -> list[list[Ring]]:
    """The polygons of a GeoPackage geometry blob (header, then WKB Polygon/MultiPolygon)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry")
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
    data = memoryview(blob)[8 + envelope :]
    position = 0

    def read(fmt: str, little: bool) -> tuple[float | int, ...]:
        nonlocal position
        values = struct.unpack_from(("<" if little else ">") + fmt, data, position)
        position += struct.calcsize(fmt)
        return values

    def geometry() -> list[list[Ring]]:
        nonlocal position
        little = data[position] == 1
        position += 1
        (kind,) = read("I", little)
        if kind == 6:  # MultiPolygon
            (count,) = read("I", little)
            return [polygon for _ in range(int(count)) for polygon in geometry()]
        if kind == 3:  # Polygon
            (ring_count,) = read("I", little)
            rings: list[Ring] = []
            for _ in range(int(ring_count)):
                (points,) = read("I", little)
                xy = read(f"{2 * int(points)}d", little)
                rings.append(
                    [(float(x), float(y)) for x, y in zip(xy[0::2], xy[1::2], strict=True)]
                )
            return [rings]
        raise ValueError(f"unexpected WKB geometry type {kind}")

    return geometry()


def _seam_run(ring: Ring, lon: float) -> tuple[int, int] | None:
    """(first, last) index of the longest cyclic run of ≥ 2 vertices on the clip line."""
    on = [abs(point[0] - lon) < 1e-6 for point in ring]
    n, best = len(ring), None
    for start in range(n):
        if on[start] and not on[start - 1]:
            length = 1
            while length < n and on[(start + length) % n]:
                length += 1
            if length >= 2 and (best is None or length > best[1]):
                best = (start, length)
    if best is None:
        return None
    return best[0], (best[0] + best[1] - 1) % n


def _outside_run(ring: Ring, run: tuple[int, int]) -> Ring:
    """The ring from the run's last vertex round to its first: what is not on the seam."""
    first, last = run
    n = len(ring)
    return [ring[(last + k) % n] for k in range((first - last) % n + 1)]


def join_antimeridian(rings: list[Ring]) -> list[Ring]:
    """Each western piece (edge at +179.9°) joined to the eastern piece (edge at −179.9°) whose
    seam covers the same latitudes; the 0.2° the clip took out is bridged by the coast's own
    segments from either side."""
    west = [(ring, _seam_run(ring, CLIP_LON)) for ring in rings]
    east = [(ring, _seam_run(ring, -CLIP_LON)) for ring in rings]
    used: set[int] = set()
    joined: list[Ring] = []
    for w_index, (w_ring, w_run) in enumerate(west):
        if w_run is None:
            continue
        w_lats = sorted((w_ring[w_run[0]][1], w_ring[w_run[1]][1]))
        for e_index, (e_ring, e_run) in enumerate(east):
            if e_run is None or e_index in used:
                continue
            e_lats = sorted((e_ring[e_run[0]][1], e_ring[e_run[1]][1]))
            if all(abs(a - b) < 1e-3 for a, b in zip(w_lats, e_lats, strict=True)):
                joined.append(_outside_run(w_ring, w_run) + _outside_run(e_ring, e_run))
                used |= {w_index, e_index}
                break
    return joined + [ring for index, ring in enumerate(rings) if index not in used]


def area_km2(ring: Sequence[Point]) -> float:
    return abs(
        sum(
            x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True)
        )
        / 2
    )


def douglas_peucker(points: Sequence[Point], tolerance: float) -> list[Point]:
    """The points of an open polyline that stay within `tolerance` of it (ends kept)."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        farthest, index = 0.0, -1
        for k in range(first + 1, last):
            x, y = points[k]
            if length == 0:
                distance = math.hypot(x - x1, y - y1)
            else:
                distance = abs(dy * (x - x1) - dx * (y - y1)) / length
            if distance > farthest:
                farthest, index = distance, k
        if index >= 0 and farthest > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def simplify_topology(regions: dict[str, list[Ring]], tolerance: float) -> dict[str, list[Ring]]:
    """Simplify shared borders once: each ring is cut into arcs where the set of regions owning
    an edge changes, each arc simplified once and handed to every ring that uses it."""
    owners: dict[Point, set[str]] = defaultdict(set)
    for key, rings in regions.items():
        for ring in rings:
            for point in ring:
                owners[point].add(key)

    def edge_owners(a: Point, b: Point) -> frozenset[str]:
        return frozenset(owners[a] & owners[b])

    done: dict[tuple[Point, ...], list[Point]] = {}

    def simplified(arc: list[Point]) -> list[Point]:
        forward, backward = tuple(arc), tuple(reversed(arc))
        canonical = min(forward, backward)
        if canonical not in done:
            done[canonical] = douglas_peucker(list(canonical), tolerance)
        result = done[canonical]
        return list(result) if canonical == forward else list(reversed(result))

    out: dict[str, list[Ring]] = {}
    for key, rings in regions.items():
        out[key] = []
        for ring in rings:
            n = len(ring)
            cuts = [
                k
                for k in range(n)
                if edge_owners(ring[k - 1], ring[k]) != edge_owners(ring[k], ring[(k + 1) % n])
            ]
            if not cuts:  # an island or a region alone: one closed arc, fixed at two far ends
                far = max(range(n), key=lambda k: math.dist(ring[0], ring[k]))
                first = douglas_peucker(ring[: far + 1], tolerance)
                second = douglas_peucker([*ring[far:], ring[0]], tolerance)
                new = first[:-1] + second[:-1]
            else:
                new = []
                for a, b in zip(cuts, [*cuts[1:], cuts[0] + n], strict=True):
                    arc = [ring[k % n] for k in range(a, b + 1)]
                    new += simplified(arc)[:-1]
            if len(new) >= 3:
                out[key].append(new)
    return out


def path_data(rings: Iterable[Sequence[tuple[int, int]]]) -> str:
    """SVG path data in relative whole units: "M12 34l5-2 3 0z" per ring."""
    parts = []
    for ring in rings:
        (x, y), rest = ring[0], ring[1:]
        steps = []
        for nx, ny in rest:
            steps.append(f"{nx - x} {ny - y}")
            x, y = nx, ny
        text = f"M{ring[0][0]} {ring[0][1]}l" + " ".join(steps) + "z"
        parts.append(text.replace(" -", "-"))
    return "".join(parts)


def _rounded(ring: Sequence[Point], frame: Frame) -> list[tuple[int, int]]:
    points: list[tuple[int, int]] = []
    for x_km, y_km in ring:
        x, y = frame.unit(x_km, y_km)
        point = (round(x), round(y))
        if not points or points[-1] != point:
            points.append(point)
    while len(points) > 1 and points[-1] == points[0]:
        points.pop()
    return points


def inside(point: Point, rings: Iterable[Sequence[tuple[int, int]]]) -> bool:
    """Even-odd rule over all rings."""
    x, y = point
    hit = False
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                hit = not hit
    return hit


def distance_to(point: Point, rings: Iterable[Sequence[tuple[int, int]]]) -> float:
    best = math.inf
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
            dx, dy = x2 - x1, y2 - y1
            t = (
                0.0
                if dx == dy == 0
                else ((point[0] - x1) * dx + (point[1] - y1) * dy) / (dx * dx + dy * dy)
            )
            t = min(1.0, max(0.0, t))
            best = min(best, math.dist(point, (x1 + t * dx, y1 + t * dy)))
    return best


def build(gpkg: Path) -> dict[str, object]:
    subjects = read_subjects(gpkg)
    projected: dict[str, list[Ring]] = {}
    for gn_name, rings in subjects.items():
        key = SUBJECTS[gn_name][0]
        rings = join_antimeridian(rings)
        projected[key] = [[LAMBERT.km(lat, lon) for lon, lat in ring] for ring in rings]
    simple = simplify_topology(projected, TOLERANCE_KM)
    for key, rings in simple.items():
        # A shared ring is never dropped (its neighbour would keep the border); islands are.
        kept = [ring for ring in rings if area_km2(ring) >= MIN_ISLAND_KM2]
        simple[key] = kept or rings
    xs = [x for rings in simple.values() for ring in rings for x, _y in ring]
    ys = [y for rings in simple.values() for ring in rings for _x, y in ring]
    km_per_unit = (max(xs) - min(xs)) / (WIDTH - 2 * PAD_UNITS)
    frame = Frame(
        km_per_unit=round(km_per_unit, 6),
        x0_km=round(min(xs) - PAD_UNITS * km_per_unit, 3),
        y0_km=round(max(ys) + PAD_UNITS * km_per_unit, 3),
    )
    height = math.ceil((max(ys) - min(ys)) / km_per_unit + 2 * PAD_UNITS)
    regions = []
    for gn_name, (key, names) in SUBJECTS.items():
        whole = [_rounded(ring, frame) for ring in simple[key]]
        whole = [ring for ring in whole if len(ring) >= 3]
        all_x = [x for ring in whole for x, _y in ring]
        all_y = [y for ring in whole for _x, y in ring]
        regions.append(
            {
                "key": key,
                "gn_name": gn_name,
                "names": names,
                "box": [min(all_x), min(all_y), max(all_x), max(all_y)],
                "path": path_data(whole),
            }
        )
    return {
        "source": "Natural Earth 1:10m Admin 1 v4.1.0 (public domain) via QGIS world_map.gpkg "
        "(Debian qgis-common 3.22.16+dfsg-1); simplified by build_outlines.py, see SOURCE.md",
        "projection": {
            "name": "Lambert conformal conic (sphere)",
            "lat1": LAMBERT.lat1,
            "lat2": LAMBERT.lat2,
            "lat0": LAMBERT.lat0,
            "lon0": LAMBERT.lon0,
            "radius_km": LAMBERT.radius_km,
            "km_per_unit": frame.km_per_unit,
            "x0_km": frame.x0_km,
            "y0_km": frame.y0_km,
            "tolerance_km": TOLERANCE_KM,
            "min_island_km2": MIN_ISLAND_KM2,
        },
        "width": WIDTH,
        "height": height,
        "regions": regions,
    }


def _ring_points(path: str) -> list[list[tuple[int, int]]]:
    """The rings back from path data written by `path_data` (for the check below)."""
    rings = []
    for chunk in path.split("M")[1:]:
        start, _l, rest = chunk.rstrip("z").partition("l")
        numbers = [int(n) for n in start.replace("-", " -").split()]
        x, y = numbers
        ring = [(x, y)]
        steps = [int(n) for n in rest.replace("-", " -").split()]
        for dx, dy in zip(steps[0::2], steps[1::2], strict=True):
            x, y = x + dx, y + dy
            ring.append((x, y))
        rings.append(ring)
    return rings


def check(result: dict[str, object]) -> list[str]:
    """Every settlement of the register in these regions, inside or near its outline."""
    projection = result["projection"]
    assert isinstance(projection, dict)
    frame = Frame(projection["km_per_unit"], projection["x0_km"], projection["y0_km"])
    regions = result["regions"]
    assert isinstance(regions, list)
    outlines = {region["key"]: _ring_points(region["path"]) for region in regions}
    problems = []
    with SETTLEMENTS.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["region"] not in outlines:
                continue
            point = frame.unit(*LAMBERT.km(float(row["lat"]), float(row["lon"])))
            rings = outlines[row["region"]]
            where = "inside" if inside(point, rings) else f"{distance_to(point, rings):.1f} off"
            print(f"  {row['name_en']:28} {row['region']:11} {where}")
            if where != "inside" and distance_to(point, rings) > NEAR_UNITS:
                problems.append(f"{row['name_en']} is {where} {row['region']}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gpkg", type=Path, help="QGIS's resources/data/world_map.gpkg")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args()
    result = build(arguments.gpkg)
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n"
    arguments.output.write_text(text, encoding="utf-8")
    regions = result["regions"]
    assert isinstance(regions, list)
    print(f"{arguments.output}: {len(text.encode())} bytes, {len(regions)} regions")
    for region in regions:
        print(f"  {region['key']:12} {len(region['path']):6} characters of path")
    problems = check(result)
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
