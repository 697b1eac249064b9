-- team features, computed after every chunk of `features.sql`: a manager's reports may sit in
-- different chunks. Input: `_person(_i, employee_id, as_of, manager_id, recognition_90d,
-- one_on_ones_held_90d)` for everyone, and `_snapshots`. Output: one row per `_person` row, in `_i` order.
with
teams as (
    -- the people sharing a manager at the snapshot
    select
        p.manager_id,
        p.as_of,
        count(*) as team_size,
        avg(p.recognition_90d) as team_recognition_90d,
        avg(p.one_on_ones_held_90d) as team_one_on_ones_held_90d
    from _person p
    where p.manager_id is not null and p.manager_id <> p.employee_id
    group by p.manager_id, p.as_of
),

team_exits as (
    -- and their recent voluntary exits
    select s.as_of, e.manager_id, count(*) as team_voluntary_exits_180d
    from employees e
    join _snapshots s
        on e.exit_reason = 'voluntary'
       and e.exit_date < cast(s.as_of as date)
       and e.exit_date >= cast(s.as_of as date) - interval 180 day
    group by s.as_of, e.manager_id
)

select
    coalesce(t.team_size, 0) as team_size,
    t.team_recognition_90d,
    t.team_one_on_ones_held_90d,
    coalesce(x.team_voluntary_exits_180d, 0) as team_voluntary_exits_180d
from _person p
left join teams t on t.manager_id = p.manager_id and t.as_of = p.as_of
left join team_exits x on x.manager_id = p.manager_id and x.as_of = p.as_of
order by p._i
