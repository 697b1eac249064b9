-- features: one row per employee on the roster at $as_of, built only from events
-- dated strictly before $as_of (point in time). Parameters: $as_of (timestamp).
-- `status` is today's status (selection skips anyone not active now).
-- Counts are over trailing windows; "days since" is null only when it cannot be known.
with
roster as (
    select
        employee_id,
        manager_id,
        status,
        department,
        hire_date,
        datediff('day', hire_date, cast($as_of as date)) as tenure_days
    from employees
    where hire_date < cast($as_of as date)
      -- employed at $as_of: not yet left then (a leaver without a date cannot be placed)
      and (exit_date >= cast($as_of as date) or (exit_date is null and status <> 'left'))
),

history as (
    -- where our records begin: "never" only means "not since then"
    select
        (select cast(coalesce(min(given_at), $as_of) as date) from recognition where given_at < $as_of)
            as recognition_start,
        (select cast(coalesce(min(scheduled_at), $as_of) as date) from one_on_ones where scheduled_at < $as_of)
            as one_on_one_start
),

reviews as (
    select
        employee_id,
        max_by(rating, review_date) as rating_latest,
        max(review_date) as last_review_date
    from performance
    where review_date < cast($as_of as date)
    group by employee_id
),

recognised as (
    select
        recipient_id as employee_id,
        count(*) filter (where given_at >= $as_of - interval 30 day) as recognition_30d,
        count(*) filter (where given_at >= $as_of - interval 90 day) as recognition_90d,
        count(*) filter (where given_at >= $as_of - interval 180 day) as recognition_180d,
        count(distinct giver_id) filter (where given_at >= $as_of - interval 90 day) as givers_90d,
        max(given_at) as last_recognised_at
    from recognition
    where given_at < $as_of and given_at >= $as_of - interval 730 day
    group by recipient_id
),

meetings as (
    select
        employee_id,
        scheduled_at,
        status,
        topics,
        row_number() over (partition by employee_id order by scheduled_at desc) as recency
    from one_on_ones
    where scheduled_at < $as_of and scheduled_at >= $as_of - interval 730 day
),

one_on_one_stats as (
    select
        employee_id,
        count(*) filter (where scheduled_at >= $as_of - interval 90 day) as one_on_ones_scheduled_90d,
        count(*) filter (where scheduled_at >= $as_of - interval 90 day and status = 'held') as one_on_ones_held_90d,
        count(*) filter (where recency <= 4 and status <> 'held') as one_on_ones_missed_last4,
        count(*) filter (where recency <= 4) as one_on_ones_last4,
        max(scheduled_at) filter (where status = 'held') as last_held_at,
        max(scheduled_at) filter (where status = 'held' and list_contains(topics, 'career')) as last_career_at
    from meetings
    group by employee_id
),

latest_survey as (
    select employee_id, item, score, responded_at,
        row_number() over (partition by employee_id, item order by responded_at desc) as recency
    from autonomy_survey
    where responded_at < $as_of and responded_at >= $as_of - interval 365 day
),

autonomy as (
    -- the autonomy level: the latest answers on freedom and decisions
    select
        employee_id,
        avg(score) filter (where recency = 1) as autonomy_latest,
        avg(score) filter (where recency = 2) as autonomy_previous
    from latest_survey
    where item in ('freedom', 'decisions')
    group by employee_id
)

select
    r.employee_id,
    r.manager_id,
    r.status,
    r.department,
    r.tenure_days,
    v.rating_latest,
    coalesce(g.recognition_30d, 0) as recognition_30d,
    coalesce(g.recognition_90d, 0) as recognition_90d,
    coalesce(g.recognition_180d, 0) as recognition_180d,
    coalesce(g.givers_90d, 0) as givers_90d,
    datediff('day', coalesce(cast(g.last_recognised_at as date), greatest(r.hire_date, h.recognition_start)),
             cast($as_of as date)) as days_since_recognition,
    g.last_recognised_at is not null as ever_recognised,
    coalesce(o.one_on_ones_scheduled_90d, 0) as one_on_ones_scheduled_90d,
    coalesce(o.one_on_ones_held_90d, 0) as one_on_ones_held_90d,
    coalesce(o.one_on_ones_missed_last4, 0) as one_on_ones_missed_last4,
    coalesce(o.one_on_ones_last4, 0) as one_on_ones_last4,
    datediff('day', coalesce(cast(o.last_held_at as date), greatest(r.hire_date, h.one_on_one_start)),
             cast($as_of as date)) as days_since_one_on_one,
    datediff('day', coalesce(cast(o.last_career_at as date), greatest(r.hire_date, h.one_on_one_start)),
             cast($as_of as date)) as days_since_career_talk,
    o.last_career_at is not null as ever_career_talk,
    a.autonomy_latest,
    a.autonomy_latest - a.autonomy_previous as autonomy_change
from roster r
cross join history h
left join reviews v using (employee_id)
left join recognised g using (employee_id)
left join one_on_one_stats o using (employee_id)
left join autonomy a using (employee_id)
order by r.employee_id
