"""The load test's figures as tables, where latency bends and what saturates there. Pure: it
reads the steps' records (bench/load/runner.py) and the CPU windows (bench/load/cpu.py)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any

from cpu import GROUPS, Window

BEND_LATENCY = 2.0  # p95 more than this many times the first step's ...
BEND_THROUGHPUT = 0.5  # ... while req/s grew by less than this share of the users' growth
MACHINE_BUSY = 0.9  # share of every core busy: the machine's CPU is the limit
PROCESS_BUSY = 90.0  # % of one core: a single-threaded process is the limit
LABELS = {"web": "web workers", "postgres": "PostgreSQL", "redis": "Redis", "locust": "locust"}


@dataclass
class Step:
    users: int
    record: dict[str, Any]  # one line of bench/load/runner.py
    cpu: Window
    load1: float  # 1-minute load average at the end of the step

    @property
    def total(self) -> dict[str, Any]:
        return self.record["total"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def overall_table(steps: list[Step], web_processes: int) -> list[str]:
    header = (
        f"{'users':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'fail':>5}"
        f" {'web':>5} {'web1':>5} {'pg':>5} {'redis':>5} {'locust':>6} {'other':>5}"
        f" {'total':>6} {'db act':>6} {'load1':>5}"
    )
    lines = [header, "-" * len(header)]
    for step in steps:
        t, c = step.total, step.cpu
        lines.append(
            f"{step.users:>5} {t['rps']:>7.1f} {_ms(t['p50']):>6} {_ms(t['p95']):>6}"
            f" {_ms(t['p99']):>6} {t['failures']:>5}"
            f" {c.percent['web']:>4.0f}% {c.busiest['web']:>4.0f}% {c.percent['postgres']:>4.0f}%"
            f" {c.percent['redis']:>4.0f}% {c.percent['locust']:>5.0f}% {c.other:>4.0f}%"
            f" {c.machine:>5.0f}% {c.db_active:>3.1f}/{c.db_connections:<2.0f}"
            f" {step.load1:>5.1f}"
        )
    lines.append(
        f"(latencies in ms; CPU in % of one core, the machine has {os.cpu_count()} cores, "
        f"{(os.cpu_count() or 1) * 100} % in all; web = the {web_processes} server process(es), "
        "web1 = the busiest one; pg = this database's backends and the server's own processes; "
        "other = the rest of the machine; db act = the database's connections running a "
        "statement / open, on average)"
    )
    return lines


def class_table(steps: list[Step]) -> list[str]:
    names = sorted({name for step in steps for name in step.record["classes"]})
    width = 31
    header = f"{'request':<18}" + "".join(f" {f'{s.users} users':>{width}}" for s in steps)
    sub = f"{'':<18}" + "".join(f" {'req/s   p50   p95    p99 fail':>{width}}" for _s in steps)
    lines = [header, sub, "-" * len(header)]
    for name in names:
        row = f"{name:<18}"
        for step in steps:
            figures = step.record["classes"].get(name)
            if figures is None:
                row += f" {'-':>{width}}"
                continue
            row += (
                f" {figures['rps']:>6.1f} {_ms(figures['p50']):>5} {_ms(figures['p95']):>5}"
                f" {_ms(figures['p99']):>6} {figures['failures']:>4}"
            )
        lines.append(row)
    return lines


def bend(steps: list[Step]) -> tuple[Step | None, str]:
    """The first step where p95 is more than BEND_LATENCY times the first step's while req/s
    grew by less than BEND_THROUGHPUT of what the growth in users would give."""
    if len(steps) < 2 or not steps[0].total["p95"]:
        return None, "too few steps to tell where latency bends"
    base = steps[0].total["p95"]
    doubled: Step | None = None
    for before, step in itertools.pairwise(steps):
        slower = step.total["p95"] is not None and step.total["p95"] > BEND_LATENCY * base
        wanted = step.users / before.users - 1
        grown = step.total["rps"] / before.total["rps"] - 1 if before.total["rps"] else 0.0
        if slower and grown < BEND_THROUGHPUT * wanted:
            return step, (
                f"latency bends at {step.users} users: p95 {step.total['p95']:,.0f} ms "
                f"({step.total['p95'] / base:.1f}x the {steps[0].users}-user step's "
                f"{base:,.0f} ms) while req/s grew {grown:+.0%} for {wanted:+.0%} users "
                f"({before.total['rps']:.1f} -> {step.total['rps']:.1f})"
            )
        if slower and doubled is None:
            doubled = step
    if doubled is not None:
        return doubled, (
            f"p95 passes {BEND_LATENCY:.0f}x the first step's at {doubled.users} users "
            f"({doubled.total['p95']:,.0f} ms against {base:,.0f} ms) while req/s still grows: "
            "no plateau of throughput yet"
        )
    return None, (
        f"no bend up to {steps[-1].users} users: p95 stays within {BEND_LATENCY:.0f}x the "
        f"first step's ({base:,.0f} ms)"
    )


def saturated(step: Step, web_processes: int) -> str:
    """Which resource is the limit at ``step``: the machine's CPU, one single-threaded web
    process, the database's connections, or else the busiest group (not saturated)."""
    c = step.cpu
    cores = os.cpu_count() or 1
    ranked = sorted(GROUPS, key=lambda g: -c.percent[g])
    shares = (
        ", ".join(f"{LABELS[g]} {c.percent[g]:.0f}%" for g in ranked) + f", other {c.other:.0f}%"
    )
    if c.machine >= MACHINE_BUSY * cores * 100:
        if c.other > max(c.percent.values()):
            return (
                f"saturated: the CPU of the machine ({c.machine:.0f}% of {cores * 100}%), most "
                f"of it taken by other work on the machine (other {c.other:.0f}%; {shares}): "
                "these figures measure a shared machine; run again when it is quiet"
            )
        return (
            f"saturated: the CPU of the machine ({c.machine:.0f}% of {cores * 100}%; "
            f"{shares}); most of it in {LABELS[ranked[0]]}"
        )
    if c.busiest["web"] >= PROCESS_BUSY:
        return (
            f"saturated: a web worker process at {c.busiest['web']:.0f}% of one core "
            f"({web_processes} process(es); each runs Django's synchronous views in one "
            f"thread), the machine at {c.machine:.0f}% ({shares})"
        )
    if c.db_connections and c.db_active >= 0.9 * c.db_connections:
        return (
            f"saturated: the database connections ({c.db_active:.1f} of "
            f"{c.db_connections:.0f} busy on average)"
        )
    return (
        f"no resource saturated on CPU at {step.users} users (machine {c.machine:.0f}%); "
        f"busiest: {shares}; the time goes in waiting (locks, the database, the network)"
    )


def errors(steps: list[Step]) -> list[str]:
    lines = []
    for step in steps:
        for error in step.record.get("errors", []):
            lines.append(
                f"  {step.users} users: {error['count']} x {error['name']}: {error['error']}"
            )
    return lines
