-- Version 8: privacy and data rights (pipelines/privacy.py): who opted out, who was forgotten
-- (as a keyed hash only, never the id), and who looked at or erased whose data.

-- People who are never scored, never named in a digest and left out of training.
create table opt_out (
    employee_id   varchar primary key,
    added_at      timestamp not null,
    source        varchar not null            -- file ([privacy] opt_out_file) | cli (retention opt-out add)
);

-- Every explain, forget and opt-out change: who ran it, when, and what. A `forget` row holds
-- counts only; other rows may name the subject's id, and forgetting that person scrubs them.
-- (`at` is a reserved word in DuckDB, hence the longer column names.)
create table audit (
    audited_at    timestamp not null,
    actor         varchar not null,
    action        varchar not null,           -- explain | forget | opt_out_add | opt_out_remove
    detail        json
);

-- Forgotten people as sha256(store secret || employee id): ingest drops a later drop file's rows
-- about them, and nobody can read the ids back from this table.
create table forgotten (
    key           varchar primary key,
    forgotten_at  timestamp not null
);

-- The store's random secret for the keys above (one row, made on first use).
create table store_secret (
    id            integer primary key check (id = 1),
    secret        varchar not null
);
