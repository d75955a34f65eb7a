"""The link's rate over the recent past, and the time left it implies: a pure estimator (no
database) fed by every exchange with the hub (`sync.station._link_event`) and kept between
exchanges as a small state (`sync.models.LinkMeter`).

- **Recent transfer, not hours.** An exponentially weighted average of bytes over seconds, where
  the weight of what was measured halves every `TAU * ln 2` (≈ 21 s) *of transfer*: only time
  spent sending and receiving counts, so an idle night does not dilute the figure, and a fall
  from 256 to 64 kbit/s shows within two minutes of sending. Time on the wall counts too, but
  slowly (`WALL_TAU`, 20 minutes): a fast link six hours ago weighs nothing once today's first
  chunk has crossed, and its figure no longer counts as measured.
- **Bytes over seconds, not the mean of rates.** Each exchange counts by its duration, so a
  chunk of 64 KiB that took 8 s weighs 8 s. An exchange smaller than `FULL_SAMPLE_BYTES` (a
  HEAD, a batch of records, a pull with nothing new) is dominated by the round trip and counts
  in proportion to its size.
- **First seconds damped.** The first `WARMUP_SECONDS` of transfer after the link has been idle
  for `IDLE_SECONDS` count at `WARMUP_WEIGHT`: a modem's or a shaper's buffer lets the first
  bytes through faster than the link carries them (a first sample of 87 kbit/s on a 64 kbit/s
  link said 533 s when 780 s remained).
- **A range until enough is measured.** Until `SETTLED_SECONDS` of recent transfer in at least
  `SETTLED_SAMPLES` full-size exchanges, the time left is a range: the rate ± `spread`, the
  spread narrowing with the square root of the time measured. Then a single figure."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

TAU = 30.0  # seconds of transfer
WALL_TAU = 20 * 60.0  # seconds on the wall
FULL_SAMPLE_BYTES = 32 * 1024
IDLE_SECONDS = 60.0
WARMUP_SECONDS = 10.0
WARMUP_WEIGHT = 0.25
SETTLED_SECONDS = 60.0
SETTLED_SAMPLES = 5.0
MAX_SPREAD = 0.5
SPREAD_AT_SETTLING = 0.2


@dataclass
class RateMeter:
    """The estimator's state. `bytes_w`/`seconds_w` are the decayed, weighted sums whose ratio
    is the rate; `measured`/`samples` say how much recent measuring stands behind it."""

    bytes_w: float = 0.0
    seconds_w: float = 0.0
    measured: float = 0.0
    samples: float = 0.0
    last_at: float | None = None  # when the last exchange ended (seconds since the epoch)
    warmup_left: float = 0.0  # seconds of transfer still damped

    def add(self, *, at: float, nbytes: int, seconds: float) -> None:
        """One exchange: `nbytes` on the wire both ways in `seconds`, ending at `at`."""
        if nbytes <= 0 or seconds <= 0:
            return
        if self.last_at is None or at - seconds - self.last_at > IDLE_SECONDS:
            self.warmup_left = WARMUP_SECONDS
        wall = self._wall_decay(at)
        transfer = math.exp(-seconds / TAU)
        quality = min(1.0, nbytes / FULL_SAMPLE_BYTES)
        weight = quality * (WARMUP_WEIGHT if self.warmup_left > 0 else 1.0)
        self.warmup_left = max(0.0, self.warmup_left - seconds)
        self.bytes_w = self.bytes_w * wall * transfer + weight * nbytes
        self.seconds_w = self.seconds_w * wall * transfer + weight * seconds
        self.measured = self.measured * wall + quality * seconds
        self.samples = self.samples * wall + quality
        self.last_at = max(at, self.last_at or at)

    def _wall_decay(self, now: float) -> float:
        if self.last_at is None:
            return 1.0
        return math.exp(-max(0.0, now - self.last_at) / WALL_TAU)

    def estimate(self, now: float) -> Estimate:
        wall = self._wall_decay(now)
        rate = self.bytes_w / self.seconds_w if self.seconds_w > 0 and self.bytes_w > 0 else None
        return Estimate(
            rate=rate, measured_seconds=self.measured * wall, samples=self.samples * wall
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RateMeter:
        known = {name: value for name, value in (data or {}).items() if name in cls.__annotations__}
        return cls(**known)


@dataclass(frozen=True)
class Estimate:
    rate: float | None  # bytes per second, None before anything was measured
    measured_seconds: float  # recent transfer time behind it
    samples: float

    @property
    def settled(self) -> bool:
        return self.measured_seconds >= SETTLED_SECONDS and self.samples >= SETTLED_SAMPLES

    @property
    def spread(self) -> float:
        """The rate's relative uncertainty: 0 once settled; ±20 % at the edge of settling,
        growing as the square root of how little was measured, up to ±50 %."""
        if self.settled:
            return 0.0
        behind = max(self.measured_seconds, 1.0)
        return min(MAX_SPREAD, SPREAD_AT_SETTLING * math.sqrt(SETTLED_SECONDS / behind))

    def time_left(self, remaining_bytes: int) -> TimeLeft:
        if remaining_bytes <= 0:
            return TimeLeft(0.0, 0.0, 0.0)
        if not self.rate:
            return TimeLeft(None, None, None)
        spread = self.spread
        middle = remaining_bytes / self.rate
        return TimeLeft(
            low=remaining_bytes / (self.rate * (1 + spread)),
            middle=middle,
            high=remaining_bytes / (self.rate * (1 - spread)),
        )


@dataclass(frozen=True)
class TimeLeft:
    """Seconds until the outbox is empty: `low`..`high`, equal to `middle` once settled."""

    low: float | None
    middle: float | None
    high: float | None
