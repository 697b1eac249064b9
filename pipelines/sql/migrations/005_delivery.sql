-- Version 5: SMTP delivery. States: queued -> sending -> sent | deferred | failed_permanent.
-- `sending` marks messages handed to the server and not yet confirmed: after a crash they
-- are sent again with the same Message-ID (the at-least-once window).
alter table outbox add column attempts integer default 0;
alter table outbox add column last_error varchar;
alter table outbox add column last_attempt_at timestamp;
