-- Version 7: whether nudges worked. Follow-through outcomes per nudge, the control group's
-- stable assignments, and the catalog's own decisions (a kind demoted for low follow-through).

-- One row per (person, kind) ever eligible for a nudge while an experiment ran: the arm never flips.
create table assignments (
    employee_id   varchar not null,
    kind          varchar not null,
    arm           varchar not null,          -- nudged | control
    week          varchar not null,          -- the week it was first assigned
    week_start    date not null,             -- that week's Monday: exits are counted from it
    assigned_at   timestamp not null,
    primary key (employee_id, kind)
);

-- Whether the signal a nudge asked for appeared, for nudges sent and for withheld (control) ones.
create table followthrough (
    week          varchar not null,          -- the week the nudge was sent (or withheld)
    employee_id   varchar not null,
    kind          varchar not null,
    manager_id    varchar,                   -- who was asked (null for control)
    arm           varchar not null,          -- nudged | control
    window_start  date not null,
    window_end    date not null,             -- window_start + followthrough days
    outcome       varchar not null,          -- not_yet | done | expired
    signal_at     timestamp,                 -- when the signal first appeared in the window
    checked_at    timestamp not null,
    credited_week varchar,                   -- the digest that gave the manager credit for it
    primary key (week, employee_id, kind)
);

-- What the catalog decided about its own kinds, and why (counts only).
create table catalog_decisions (
    week          varchar not null,
    kind          varchar not null,
    action        varchar not null,          -- demoted | restored
    rate          double,
    resolved      bigint not null,
    floor         double,
    decided_at    timestamp not null,
    primary key (week, kind)
);
