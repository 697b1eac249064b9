"""Internals of `pipelines.synthetic`; import the public API from there.

One job per module, in the order generation runs:
`tree` (positions), `people` and `org` (who holds them, latent signals),
`hazard` (the true exit model), `simulation` (the monthly loop),
`events` (one month's recognition, 1:1s, surveys, learning, reviews),
`columns`, `employees`, `event_tables` and `bad_rows` (Arrow tables as the
files spell them, messy on purpose), `writing` (CSV files) and `truth`
(`_truth/` and the oracle AUC). `vocab` and `dates` are shared vocabulary
and calendar arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

# progress(stage label, overall fraction done in [0, 1], never decreasing)
Progress = Callable[[str, float], None]
