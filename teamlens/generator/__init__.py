"""Synthetic contact center: writes the landing zone (docs/landing.md) from a seed.

Why: the pipeline needs realistic, reproducible raw data to run on without touching real
employees. The files carry what real exports carry and ingestion must handle: personal fields
(names, phone numbers, window titles, free-text notes), duplicate deliveries, transfers,
abandoned calls, late logins and early logouts, and daylight-saving changes.

Determinism: every random draw comes from `random.Random` instances seeded from `seed` (the
roster from the seed, each week's days off and each site-day from the seed plus the date), and
nothing reads the wall clock, so one seed gives byte-identical files, and a given day's files
do not depend on how many days were generated.

A site-day is simulated as a discrete-event system: agents log in, go Available, take inbound
calls (exponential idle gaps sized so that a shift sees about `calls_per_agent_day` calls),
never take a call before the previous call's after-contact work ends, start breaks when the
current call is finished, and transferred calls queue for an idle agent of another team at the
same site (or are abandoned when nobody picks them up in time).
"""

from __future__ import annotations

from teamlens.generator.calls import CTR_KEYS
from teamlens.generator.desktop import DESKTOP_APPS
from teamlens.generator.landing import generate_center
from teamlens.generator.roster import Agent, Site, Team, build_roster

__all__ = ["CTR_KEYS", "DESKTOP_APPS", "Agent", "Site", "Team", "build_roster", "generate_center"]
