"""Privacy and data rights: opt-out, explain, forget, and the retention purge.

One module per job; none of them imports this package's `__init__`:

- `identity`: what an employee id looks like and which columns of the store name a person.
- `forgotten`: the keyed hashes that keep a forgotten person out of every later drop file.
- `audit`: the audit row each data-rights action writes.
- `optout`: the opt-out file and table, and leaving opted-out people out of a week.
- `explain`: one person's page for HR.
- `forget`: erasing one person from the store and the outbox.
- `retention`: purging old events, the weekly run's data rules, and compacting the store.

Functions take a DuckDB connection and plain values; `retention.apply_data_rules` is the one
edge that reads settings. Log lines carry counts only: never an id, a name or an address.
"""
