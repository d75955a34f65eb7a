"""Great-circle distance between two places on the Earth (issue 16, domain.md §10).

A sphere is enough here: the haversine formula on the mean Earth radius is within about 0.5 % of
the ellipsoid, far below the uncertainty of any flight estimate built on it. It stays exact near
the antimeridian, which Chukotka straddles (Uelen is at 169.8° W, Anadyr at 177.5° E).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

# The IUGG mean Earth radius R1 = (2a + b) / 3, in kilometres.
EARTH_MEAN_RADIUS_KM = 6371.0088


class Located(Protocol):
    """Anything with a latitude and longitude in decimal degrees (WGS 84): a settlement row, a
    facility, a `Point`."""

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude out of range: {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"longitude out of range: {self.lon}")


def great_circle_km(origin: Located, destination: Located) -> float:
    """Shortest distance over the Earth's surface, in km, by the haversine formula."""
    phi1 = math.radians(origin.lat)
    phi2 = math.radians(destination.lat)
    d_phi = phi2 - phi1
    d_lambda = math.radians(destination.lon - origin.lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # min() guards against h creeping above 1 by rounding for (nearly) antipodal points.
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))
