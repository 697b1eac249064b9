-- Version 3: promotion history (optional source), so "time since promotion" is known
-- at every past snapshot, not only today.
create table promotions (
    employee_id    varchar not null,
    effective_date date not null,
    _file          varchar not null,
    _line          bigint not null
);
