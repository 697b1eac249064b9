-- features: one row per (employee, snapshot) for everyone employed at the snapshot,
-- built only from events dated strictly before it (point in time).
-- Input: a table `_snapshots(as_of timestamp)`; one row for a weekly run, one per
-- month for training. "Days since" is counted from where our records begin when
-- nothing happened since, so "never" means "not since records began".
-- `status` is today's status (selection skips anyone not active now); `manager_id`
-- is today's manager.
with
-- The people of this chunk: ids in [$lo, $hi) ($hi null: no upper bound). Large rosters are
-- computed a chunk at a time so memory stays bounded; the events below are cut the same way.
chunk_promotions as not materialized (
    select * from promotions where employee_id >= $lo and ($hi is null or employee_id < $hi)
),
chunk_performance as not materialized (
    select * from performance where employee_id >= $lo and ($hi is null or employee_id < $hi)
),
chunk_recognition as not materialized (
    select * from recognition where recipient_id >= $lo and ($hi is null or recipient_id < $hi)
),
chunk_one_on_ones as not materialized (
    select * from one_on_ones where employee_id >= $lo and ($hi is null or employee_id < $hi)
),
chunk_autonomy_survey as not materialized (
    select * from autonomy_survey where employee_id >= $lo and ($hi is null or employee_id < $hi)
),
chunk_learning as not materialized (
    select * from learning where employee_id >= $lo and ($hi is null or employee_id < $hi)
),

roster as (
    select
        e.employee_id,
        s.as_of,
        e.manager_id,
        e.status,
        coalesce(e.department, 'unknown') as department,
        coalesce(e.location, 'unknown') as location,
        e.hire_date,
        datediff('day', e.hire_date, cast(s.as_of as date)) as tenure_days
    from employees e
    cross join _snapshots s
    where e.employee_id >= $lo and ($hi is null or e.employee_id < $hi)
      and e.hire_date < cast(s.as_of as date)
      -- employed then: not yet left (a leaver without a date cannot be placed in time)
      and (e.exit_date >= cast(s.as_of as date) or (e.exit_date is null and e.status <> 'left'))
),

history as (
    -- where our records begin, as known at each snapshot
    select
        s.as_of,
        (select cast(min(given_at) as date) from recognition where given_at < s.as_of) as recognition_start,
        (select cast(min(scheduled_at) as date) from one_on_ones where scheduled_at < s.as_of) as one_on_one_start,
        (select cast(min(completed_at) as date) from learning where completed_at < s.as_of) as learning_start,
        (select min(effective_date) from promotions where effective_date < cast(s.as_of as date)) as promotions_start
    from _snapshots s
),

last_promotion as (
    select r.employee_id, r.as_of, p.effective_date as last_promoted_on
    from roster r
    asof left join chunk_promotions p
        on r.employee_id = p.employee_id and cast(r.as_of as date) > p.effective_date
),

reviews as (
    select
        r.employee_id,
        r.as_of,
        p.rating as rating_latest,
        p.review_date as last_review_date
    from roster r
    asof left join chunk_performance p
        on r.employee_id = p.employee_id and cast(r.as_of as date) > p.review_date
),

reviews_before as (
    -- the rating half a year earlier, for the trend
    select r.employee_id, r.as_of, p.rating as rating_earlier
    from roster r
    asof left join chunk_performance p
        on r.employee_id = p.employee_id and cast(r.as_of as date) - interval 180 day > p.review_date
),

recognition_windows as (
    select
        r.employee_id,
        r.as_of,
        count(*) filter (where g.given_at >= r.as_of - interval 30 day) as recognition_30d,
        count(*) filter (where g.given_at >= r.as_of - interval 60 day
                           and g.given_at < r.as_of - interval 30 day) as recognition_prev_30d,
        count(*) filter (where g.given_at >= r.as_of - interval 90 day) as recognition_90d,
        count(*) as recognition_180d,
        count(distinct g.giver_id) filter (where g.given_at >= r.as_of - interval 90 day) as givers_90d
    from roster r
    join chunk_recognition g
        on g.recipient_id = r.employee_id
       and g.given_at < r.as_of
       and g.given_at >= r.as_of - interval 180 day
    group by r.employee_id, r.as_of
),

last_recognition as (
    select r.employee_id, r.as_of, g.given_at as last_recognised_at
    from roster r
    asof left join chunk_recognition g
        on r.employee_id = g.recipient_id and r.as_of > g.given_at
),

meetings as (
    select
        r.employee_id,
        r.as_of,
        m.scheduled_at,
        m.status,
        row_number() over (partition by r.employee_id, r.as_of order by m.scheduled_at desc) as recency
    from roster r
    join chunk_one_on_ones m
        on m.employee_id = r.employee_id
       and m.scheduled_at < r.as_of
       and m.scheduled_at >= r.as_of - interval 180 day
),

meeting_stats as (
    select
        employee_id,
        as_of,
        count(*) filter (where scheduled_at >= as_of - interval 90 day) as one_on_ones_scheduled_90d,
        count(*) filter (where scheduled_at >= as_of - interval 90 day and status = 'held') as one_on_ones_held_90d,
        count(*) filter (where scheduled_at >= as_of - interval 90 day and status <> 'held') as one_on_ones_missed_90d,
        count(*) filter (where recency <= 4 and status <> 'held') as one_on_ones_missed_last4,
        count(*) filter (where recency <= 4) as one_on_ones_last4
    from meetings
    group by employee_id, as_of
),

held as (
    select employee_id, scheduled_at, topics
    from chunk_one_on_ones
    where status = 'held'
),

last_held as (
    select r.employee_id, r.as_of, h.scheduled_at as last_held_at
    from roster r
    asof left join held h
        on r.employee_id = h.employee_id and r.as_of > h.scheduled_at
),

career_talks as (
    select employee_id, scheduled_at from held where list_contains(topics, 'career')
),

goal_talks as (
    select employee_id, scheduled_at from held where list_contains(topics, 'goals')
),

last_goals as (
    select r.employee_id, r.as_of, c.scheduled_at as last_goals_at
    from roster r
    asof left join goal_talks c
        on r.employee_id = c.employee_id and r.as_of > c.scheduled_at
),

last_career as (
    select r.employee_id, r.as_of, c.scheduled_at as last_career_at
    from roster r
    asof left join career_talks c
        on r.employee_id = c.employee_id and r.as_of > c.scheduled_at
),

survey_items as (
    -- the latest answer per item in the last year, and the one before it
    -- (max_by with n = 2: an aggregate, cheaper than numbering every answer with a window)
    select
        r.employee_id,
        r.as_of,
        a.item,
        max_by(a.score, a.responded_at, 2) as recent
    from roster r
    join chunk_autonomy_survey a
        on a.employee_id = r.employee_id
       and a.responded_at < r.as_of
       and a.responded_at >= r.as_of - interval 365 day
       and a.item in ('freedom', 'decisions', 'voice', 'growth')
    group by r.employee_id, r.as_of, a.item
),

survey as (
    select
        employee_id,
        as_of,
        avg(recent[1]) filter (where item in ('freedom', 'decisions')) as autonomy_latest,
        avg(recent[2]) filter (where item in ('freedom', 'decisions')) as autonomy_previous,
        avg(recent[1]) filter (where item = 'voice') as voice_latest,
        avg(recent[2]) filter (where item = 'voice') as voice_previous,
        avg(recent[1]) filter (where item = 'growth') as growth_latest
    from survey_items
    group by employee_id, as_of
),

learning_windows as (
    select r.employee_id, r.as_of, count(*) as learning_180d
    from roster r
    join chunk_learning l
        on l.employee_id = r.employee_id
       and l.completed_at < r.as_of
       and l.completed_at >= r.as_of - interval 180 day
    group by r.employee_id, r.as_of
),

last_learning as (
    select r.employee_id, r.as_of, l.completed_at as last_learning_at
    from roster r
    asof left join chunk_learning l
        on r.employee_id = l.employee_id and r.as_of > l.completed_at
),

person as (
    select
        r.employee_id,
        r.as_of,
        r.manager_id,
        r.status,
        r.department,
        r.location,
        r.tenure_days,
        v.rating_latest,
        v.rating_latest - b.rating_earlier as rating_change,
        datediff('day', v.last_review_date, cast(r.as_of as date)) as days_since_review,
        -- promotion history is kept from hire, so no promotion yet means "since hire";
        -- unknown (null) when no promotion history was provided at all
        case when h.promotions_start is not null
             then datediff('day', coalesce(lp.last_promoted_on, r.hire_date), cast(r.as_of as date))
        end as days_since_promotion,
        coalesce(w.recognition_30d, 0) as recognition_30d,
        coalesce(w.recognition_90d, 0) as recognition_90d,
        coalesce(w.recognition_180d, 0) as recognition_180d,
        coalesce(w.recognition_30d, 0) - coalesce(w.recognition_prev_30d, 0) as recognition_trend,
        coalesce(w.givers_90d, 0) as givers_90d,
        datediff('day', coalesce(cast(g.last_recognised_at as date), greatest(r.hire_date, h.recognition_start)),
                 cast(r.as_of as date)) as days_since_recognition,
        g.last_recognised_at is not null as ever_recognised,
        coalesce(m.one_on_ones_scheduled_90d, 0) as one_on_ones_scheduled_90d,
        coalesce(m.one_on_ones_held_90d, 0) as one_on_ones_held_90d,
        coalesce(m.one_on_ones_missed_90d, 0) as one_on_ones_missed_90d,
        coalesce(m.one_on_ones_missed_last4, 0) as one_on_ones_missed_last4,
        coalesce(m.one_on_ones_last4, 0) as one_on_ones_last4,
        datediff('day', coalesce(cast(lh.last_held_at as date), greatest(r.hire_date, h.one_on_one_start)),
                 cast(r.as_of as date)) as days_since_one_on_one,
        datediff('day', coalesce(cast(lc.last_career_at as date), greatest(r.hire_date, h.one_on_one_start)),
                 cast(r.as_of as date)) as days_since_career_talk,
        lc.last_career_at is not null as ever_career_talk,
        datediff('day', coalesce(cast(lg.last_goals_at as date), greatest(r.hire_date, h.one_on_one_start)),
                 cast(r.as_of as date)) as days_since_goals_talk,
        lg.last_goals_at is not null as ever_goals_talk,
        s.autonomy_latest,
        s.autonomy_latest - s.autonomy_previous as autonomy_change,
        s.voice_latest,
        s.voice_latest - s.voice_previous as voice_change,
        s.growth_latest,
        coalesce(lw.learning_180d, 0) as learning_180d,
        -- learning is optional: without any learning history the recency is unknown, not "since hire"
        case when h.learning_start is not null
             then datediff('day', coalesce(cast(ll.last_learning_at as date), greatest(r.hire_date, h.learning_start)),
                           cast(r.as_of as date))
        end as days_since_learning
    from roster r
    join history h on h.as_of = r.as_of
    left join reviews v on v.employee_id = r.employee_id and v.as_of = r.as_of
    left join reviews_before b on b.employee_id = r.employee_id and b.as_of = r.as_of
    left join last_promotion lp on lp.employee_id = r.employee_id and lp.as_of = r.as_of
    left join recognition_windows w on w.employee_id = r.employee_id and w.as_of = r.as_of
    left join last_recognition g on g.employee_id = r.employee_id and g.as_of = r.as_of
    left join meeting_stats m on m.employee_id = r.employee_id and m.as_of = r.as_of
    left join last_held lh on lh.employee_id = r.employee_id and lh.as_of = r.as_of
    left join last_career lc on lc.employee_id = r.employee_id and lc.as_of = r.as_of
    left join last_goals lg on lg.employee_id = r.employee_id and lg.as_of = r.as_of
    left join survey s on s.employee_id = r.employee_id and s.as_of = r.as_of
    left join learning_windows lw on lw.employee_id = r.employee_id and lw.as_of = r.as_of
    left join last_learning ll on ll.employee_id = r.employee_id and ll.as_of = r.as_of
)

select p.*
from person p
order by p.as_of, p.employee_id
