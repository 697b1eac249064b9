-- For every open follow-through row: when the signal its nudge asked for first appeared
-- inside its window [window_start, window_end). `_ft_kinds(kind, signal)` maps each kind
-- to its signal family (the catalog's `evidence`). Survey signals count only when an
-- answer in the window is higher than the person's last answer before it.
with open_rows as (
    select f.week, f.employee_id, f.kind, f.window_start, f.window_end, k.signal
    from followthrough f join _ft_kinds k using (kind)
    where f.outcome = 'not_yet'
),
recognised as (
    select o.week, o.employee_id, o.kind, min(r.given_at) as seen_at
    from open_rows o join recognition r
      on r.recipient_id = o.employee_id and r.given_at >= o.window_start and r.given_at < o.window_end
    where o.signal in ('recognition', 'credit')
    group by all
),
held as (
    select o.week, o.employee_id, o.kind, min(m.scheduled_at) as seen_at
    from open_rows o join one_on_ones m
      on m.employee_id = o.employee_id and m.scheduled_at >= o.window_start and m.scheduled_at < o.window_end
    where m.status = 'held'
      and (o.signal = 'one_on_ones'
           or (o.signal = 'career' and list_contains(m.topics, 'career'))
           or (o.signal = 'goals' and list_contains(m.topics, 'goals'))
           or (o.signal = 'plan' and (list_contains(m.topics, 'career') or list_contains(m.topics, 'goals'))))
    group by all
),
learned as (
    select o.week, o.employee_id, o.kind, min(l.completed_at) as seen_at
    from open_rows o join learning l
      on l.employee_id = o.employee_id and l.completed_at >= o.window_start and l.completed_at < o.window_end
    where o.signal = 'growth'
    group by all
),
survey_open as (
    select o.*, i.item
    from open_rows o
    join (values ('autonomy', 'freedom'), ('autonomy', 'decisions'), ('voice', 'voice'), ('growth', 'growth'))
      as i(signal, item) using (signal)
),
baseline as (
    select o.week, o.employee_id, o.kind, o.item, arg_max(a.score, a.responded_at) as before
    from survey_open o join autonomy_survey a
      on a.employee_id = o.employee_id and a.item = o.item and a.responded_at < o.window_start
    group by all
),
moved as (
    select o.week, o.employee_id, o.kind, min(a.responded_at) as seen_at
    from survey_open o
    join baseline b using (week, employee_id, kind, item)
    join autonomy_survey a
      on a.employee_id = o.employee_id and a.item = o.item
     and a.responded_at >= o.window_start and a.responded_at < o.window_end
    where a.score > b.before
    group by all
),
found as (
    select week, employee_id, kind, min(seen_at) as seen_at
    from (
        select * from recognised union all select * from held
        union all select * from learned union all select * from moved
    )
    group by all
)
select o.week, o.employee_id, o.kind, o.signal, o.window_end, f.seen_at
from open_rows o left join found f using (week, employee_id, kind)
