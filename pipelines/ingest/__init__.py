"""Ingest a drop folder into DuckDB: good rows load, bad rows go to quarantine.

The whole folder is one transaction, so a missing file or an unusable one
leaves the store exactly as it was. A file whose content hash is already
recorded is skipped; a changed file replaces the rows it loaded before. Free
text (recognition messages) is read only to be dropped.

- `discover`: which files of the folder feed which source, and which changed;
- `headers`: the export's headers matched to the contract's columns;
- `rules` and `check`: what makes a row bad, as typed rules, and the one query that applies them;
- `load`: the folder's transaction, each file's replace, the run it records;
- `options` and `report`: what ingest is told, and what it says back.

Files are read through `pipelines.connectors`, never by format here.
"""
