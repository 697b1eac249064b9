-- Version 4: what HR needs to audit a week and to watch the score over time.

-- Every star considered in a week, included or skipped, and why (ids only, never names or scores).
create table decisions (
    week          varchar not null,
    employee_id   varchar not null,
    kind          varchar,
    outcome       varchar not null,   -- included | skipped
    reason        varchar not null,
    recipient_id  varchar,
    skip_level    boolean not null,
    decided_at    timestamp not null,
    primary key (week, employee_id)
);

-- Each person's manager as seen by a week's run, to notice a change of manager.
create table manager_history (
    week          varchar not null,
    employee_id   varchar not null,
    manager_id    varchar,
    primary key (week, employee_id)
);

-- One row per week: aggregates for the HR summary's model health (drift of the mean score).
create table week_stats (
    week          varchar primary key,
    method        varchar not null,   -- model | rules
    people        bigint not null,
    stars         bigint not null,
    flagged       bigint not null,
    mean_risk     double,
    created_at    timestamp not null
);
