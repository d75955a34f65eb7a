"""The Far East's region outlines as the map draws them (issue 18, point 2): the federal
subjects that the network's settlements lie in, shipped with the project in
`data/far_east_outlines.json` (Natural Earth, public domain; see `data/SOURCE.md` for where
it comes from and how `data/build_outlines.py` simplified it). Nothing is fetched from outside.

The outlines are stored already projected, as SVG path data in whole map units, so that a page
costs no computation and few bytes. A settlement is placed with the same projection
(`Outlines.project`): a Lambert conformal conic on a sphere centred on the Far East, whose
longitude difference is taken modulo 360° so that Chukotka east of the antimeridian (Uelen at
169.8° W) lies east of Anadyr (177.5° E), not at the far left of the map.

Pure: no ORM, no request; the file is read once per process."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

OUTLINES_FILE = Path(__file__).resolve().parent / "data" / "far_east_outlines.json"


@dataclass(frozen=True)
class Lambert:
    """A Lambert conformal conic projection on a sphere: shapes are kept locally, and the
    scale is true on the two standard parallels, which for the Far East (42° N to 77° N) are
    chosen near a sixth of the span in from either edge."""

    lat1: float
    lat2: float
    lat0: float
    lon0: float
    radius_km: float

    def km(self, latitude: float, longitude: float) -> tuple[float, float]:
        """Easting and northing in km from (lat0, lon0)."""
        phi1, phi2 = math.radians(self.lat1), math.radians(self.lat2)
        n = math.log(math.cos(phi1) / math.cos(phi2)) / math.log(
            math.tan(math.pi / 4 + phi2 / 2) / math.tan(math.pi / 4 + phi1 / 2)
        )
        f = math.cos(phi1) * math.tan(math.pi / 4 + phi1 / 2) ** n / n

        def rho(latitude: float) -> float:
            return self.radius_km * f / math.tan(math.pi / 4 + math.radians(latitude) / 2) ** n

        # The antimeridian: 169.8° W is 40.2° east of 150° E, not 319.8° west of it.
        delta = (longitude - self.lon0 + 180.0) % 360.0 - 180.0
        theta = n * math.radians(delta)
        r = rho(latitude)
        return r * math.sin(theta), rho(self.lat0) - r * math.cos(theta)


@dataclass(frozen=True)
class Frame:
    """Where the projected km land in the map's units: x to the right, y downwards (SVG)."""

    km_per_unit: float
    x0_km: float
    y0_km: float

    def unit(self, x_km: float, y_km: float) -> tuple[float, float]:
        return (x_km - self.x0_km) / self.km_per_unit, (self.y0_km - y_km) / self.km_per_unit


@dataclass(frozen=True)
class Region:
    """One federal subject: `key` is the region as the network's register names it
    (`Settlement.region`), `names` its name per language, `path` its outline as SVG path data,
    `box` its extent in map units (left, top, right, bottom)."""

    key: str
    names: dict[str, str]
    path: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Outlines:
    width: int
    height: int
    lambert: Lambert
    frame: Frame
    regions: tuple[Region, ...]

    def project(self, latitude: float, longitude: float) -> tuple[float, float]:
        """A place's position on the map, in map units (not rounded)."""
        return self.frame.unit(*self.lambert.km(latitude, longitude))

    def region(self, key: str) -> Region | None:
        return next((region for region in self.regions if region.key == key), None)


def parse(data: dict[str, object]) -> Outlines:
    """The outlines from the committed file's JSON (see build_outlines.py for its shape)."""
    projection = data["projection"]
    assert isinstance(projection, dict)
    lambert = Lambert(
        lat1=float(projection["lat1"]),
        lat2=float(projection["lat2"]),
        lat0=float(projection["lat0"]),
        lon0=float(projection["lon0"]),
        radius_km=float(projection["radius_km"]),
    )
    frame = Frame(
        km_per_unit=float(projection["km_per_unit"]),
        x0_km=float(projection["x0_km"]),
        y0_km=float(projection["y0_km"]),
    )
    regions = data["regions"]
    assert isinstance(regions, list)
    return Outlines(
        width=int(str(data["width"])),
        height=int(str(data["height"])),
        lambert=lambert,
        frame=frame,
        regions=tuple(
            Region(
                key=str(region["key"]),
                names={str(k): str(v) for k, v in region["names"].items()},
                path=str(region["path"]),
                box=(
                    int(region["box"][0]),
                    int(region["box"][1]),
                    int(region["box"][2]),
                    int(region["box"][3]),
                ),
            )
            for region in regions
        ),
    )


@cache
def far_east() -> Outlines:
    """The committed outlines, read once per process."""
    return parse(json.loads(OUTLINES_FILE.read_text(encoding="utf-8")))
