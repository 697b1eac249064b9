-- Version 2: extra HRIS columns HR chose to keep ([ingest] extra_columns), one row per
-- person and attribute, so adding a column to the export needs no schema change.
create table employee_attributes (
    employee_id  varchar not null,
    name         varchar not null,
    value        varchar,
    _file        varchar not null,
    primary key (employee_id, name)
);
