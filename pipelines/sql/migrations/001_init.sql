-- Version 1: raw signals, ingestion bookkeeping, quarantine, runs, nudges, outbox.
-- Raw tables keep the file and line each row came from, so a bad value can be traced.

create table ingested_files (
    path             varchar primary key,   -- relative to the drop folder
    source           varchar not null,
    sha256           varchar not null,
    rows_read        bigint not null,
    rows_loaded      bigint not null,
    rows_quarantined bigint not null,
    ingested_at      timestamp not null,
    run_id           varchar not null
);

create table quarantine (
    run_id        varchar not null,
    source        varchar not null,
    file          varchar not null,
    line          bigint,
    column_name   varchar,
    reason        varchar not null,
    -- the offending value, only for columns that are not sensitive
    value         varchar,
    quarantined_at timestamp not null
);

create table employees (
    employee_id  varchar primary key,
    email        varchar not null,
    manager_id   varchar,
    hire_date    date not null,
    status       varchar not null,
    name         varchar,
    department   varchar,
    job_title    varchar,
    location     varchar,
    exit_date    date,
    exit_reason  varchar,
    _file        varchar not null,
    _line        bigint not null
);

create table performance (
    employee_id  varchar not null,
    review_date  date not null,
    rating       double not null,
    _file        varchar not null,
    _line        bigint not null
);

create table recognition (
    recipient_id varchar not null,
    given_at     timestamp not null,
    giver_id     varchar,
    points       double,
    channel      varchar,
    _file        varchar not null,
    _line        bigint not null
);

create table one_on_ones (
    manager_id   varchar not null,
    employee_id  varchar not null,
    scheduled_at timestamp not null,
    status       varchar not null,
    duration_min double,
    topics       varchar[],
    _file        varchar not null,
    _line        bigint not null
);

create table autonomy_survey (
    employee_id  varchar not null,
    responded_at timestamp not null,
    item         varchar not null,
    score        integer not null,
    _file        varchar not null,
    _line        bigint not null
);

create table learning (
    employee_id  varchar not null,
    completed_at timestamp not null,
    kind         varchar,
    _file        varchar not null,
    _line        bigint not null
);

create table runs (
    run_id       varchar primary key,
    kind         varchar not null,           -- ingest | weekly
    week         varchar,                    -- ISO week for weekly runs
    started_at   timestamp not null,
    finished_at  timestamp,
    status       varchar not null,           -- running | completed | failed
    summary      json                        -- counts only, never names or scores
);

-- One row per nudge chosen for a digest: the cooldown history and HR's audit trail.
create table nudges (
    week         varchar not null,
    manager_id   varchar not null,
    employee_id  varchar not null,
    kind         varchar not null,
    skip_level   boolean not null,
    priority     double not null,
    created_at   timestamp not null,
    primary key (week, employee_id, kind)
);

-- One digest per manager per ISO week: the key that makes a re-run send nothing twice.
create table outbox (
    week         varchar not null,
    manager_id   varchar not null,
    message_id   varchar not null,
    recipient    varchar not null,
    subject      varchar not null,
    message      blob not null,              -- the full RFC 5322 message
    html         varchar not null,           -- the preview page
    nudge_count  integer not null,
    state        varchar not null,           -- queued | sent
    created_at   timestamp not null,
    delivered_at timestamp,
    primary key (week, manager_id)
);
