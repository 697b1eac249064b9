"""Connectors: each reads one kind of export into the staging table of one canonical source.

Shaped like httpx's transports: ingest talks to one small interface (`base.Connector`)
and finds the implementation by file extension or format name (`registry`), never by
importing a format's module. Every connector stages text with line numbers and hands
back the lines it could not read, so ingest's checks, quarantine and forgotten-person
filtering are the same for every format. One module per format.
"""
