"""The weekly run: one ISO week from the store to the managers' digests.

- `stage`: how a stage announces itself and is called (directly, or as a Prefect task)
- `queries`: what a week reads about people (routing, contacts, cooldowns, managers)
- `plan`: features -> stars and scores -> selection, written nowhere (`preview` shares it)
- `render`: digests in batches, queued with their nudges
- `record`: the `runs` row, decisions, nudges, managers and the week's counts
- `run`: the one stage sequence, `run_week`, that the CLI calls and the flow wraps
"""
