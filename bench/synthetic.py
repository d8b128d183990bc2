"""Synthetic closures in a city-sized area: street-like polylines with phased windows, pauses and hours."""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from pyproj import Geod

from roadworks.documents import closure_doc
from roadworks.domain.model import Closure, Project
from roadworks.domain.schedule import Hours, Schedule, Span

GEOD = Geod(ellps="WGS84")
# About 30 km by 28 km around Xining.
AREA = (101.60, 36.50, 101.95, 36.75)
PROJECTS = [Project(id=f"bench-{i}", name=f"Bench project {i}", agency="Bench agency", timezone="Asia/Shanghai",
                    pauses=(Span(date(2025, 6, 1), date(2025, 8, 31), "tourist season"),) if i % 3 == 0 else ())
            for i in range(20)]


def street(rng: random.Random) -> list[list[float]]:
    """A block or a few of one street: 4 to 30 vertices 15-40 m apart (OSM-like), 50 m to 1 km long."""
    lon, lat = rng.uniform(AREA[0], AREA[2]), rng.uniform(AREA[1], AREA[3])
    heading = rng.choice((0, 90, 180, 270)) + rng.uniform(-15, 15)
    points = [[round(lon, 7), round(lat, 7)]]
    for _ in range(rng.randint(3, 29)):
        heading += rng.uniform(-10, 10)
        lon, lat, _ = GEOD.fwd(lon, lat, heading, rng.uniform(15, 40))
        points.append([round(lon, 7), round(lat, 7)])
    return points


def schedule(rng: random.Random) -> Schedule:
    """One to three phases between 2024 and 2027, some open-ended, some paused, some at night only."""
    start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
    windows = []
    for phase in range(rng.randint(1, 3)):
        end = start + timedelta(days=rng.randint(10, 120))
        windows.append(Span(start, None if rng.random() < 0.05 and phase == 0 else end, f"phase {phase + 1}"))
        if windows[-1].end is None:
            break
        start = end + timedelta(days=rng.randint(1, 60))
    pauses = ()
    if rng.random() < 0.2 and windows[0].end is not None:
        middle = windows[0].start + (windows[0].end - windows[0].start) / 2
        pauses = (Span(middle, middle + timedelta(days=3), "festival"),)
    hours = (Hours(frozenset(range(5)), time(22), time(6)),) if rng.random() < 0.15 else ()
    return Schedule(tuple(windows), pauses, hours)


def closures(n: int, seed: int = 7) -> list[Closure]:
    """`n` synthetic closures, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        geometry = {"type": "LineString", "coordinates": street(rng)}
        out.append(Closure(id=f"c{i:06d}", project=PROJECTS[i % len(PROJECTS)].id, geometry=geometry,
                           schedule=schedule(rng), road=f"Street {rng.randint(1, 3000)}",
                           impact=rng.choice(("closed", "lanes-closed", "alternating")), version=1))
    return out


def documents(n: int, seed: int = 7) -> list[dict]:
    return [closure_doc(c) for c in closures(n, seed)]
