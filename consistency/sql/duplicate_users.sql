-- docs/rules.md §3 duplicate-user: every user in a group of two or more users whose
-- normalised emails are equal, for the groups that hold a therapist. Counts users.
select coalesce(sum(members), 0)
from (
    select count(*) as members
    from users
    group by lower(btrim(email))
    having count(*) > 1 and bool_or(user_type = 'therapist')
) groups
