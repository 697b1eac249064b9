-- Version 6: a file's size and modification time beside its hash, so that an unchanged
-- file of years of history is recognised without reading it again each week.
alter table ingested_files add column size bigint;
alter table ingested_files add column mtime_ns bigint;
