-- One row per therapist: the three rows side by side, each check of docs/rules.md §3 and each
-- link problem. The same statement serves one therapist, a chunk and all of them:
-- the filter of the first CTE is one of the fixed fragments of consistency.engine.checks,
-- with its values bound as parameters. The unlinked-enrollment and twin filters narrow
-- the two lookups by normalised email to rows a repair-all found once for the whole
-- job (consistency/sql/chunk_keys.sql), read by key; elsewhere they are "true". (The
-- placeholders appear in the statement only: a placeholder in a comment would put a
-- bound value inside the comment, where a newline in the value ends the comment and
-- the rest of the value runs as SQL.)
with therapist as (
    -- docs/rules.md §2: a therapist is a users row with user_type 'therapist'.
    select u.id, u.email, lower(btrim(u.email)) as norm_email, u.full_name,
           u.is_verified, u.is_active, u.avatar_url, u.xmin as u_xmin
    from users u
    where u.user_type = 'therapist' and ({therapist_filter})
),
unlinked as (
    -- docs/rules.md §2: the unlinked enrollments (user_id NULL) whose normalised email is a
    -- therapist's. One row per normalised email: how many there are, and the first in
    -- the canonical order (approved first, then the latest updated_at, then the
    -- greatest id).
    select distinct on (e.norm_email)
           e.norm_email,
           -- The window is sorted as the DISTINCT ON is, so one sort serves both.
           count(*) over (
               partition by e.norm_email order by (e.status = 'approved') desc, e.updated_at desc, e.id desc
               rows between unbounded preceding and unbounded following
           ) as unlinked_count,
           e.id, e.status, e.updated_at
    from (
        select lower(btrim(e.email)) as norm_email, e.id, e.status, e.updated_at
        from therapist_enrollments e
        where e.user_id is null and lower(btrim(e.email)) in (select t.norm_email from therapist t)
          and ({unlinked_filter})
    ) e
    order by e.norm_email, (e.status = 'approved') desc, e.updated_at desc, e.id desc
),
duplicate_email as (
    -- docs/rules.md §3 duplicate-user: the therapists' normalised emails that two or more users
    -- (of any type) share. users.email is unique, so at most one user of such a group
    -- has an email that is already normalised: every group holds a user whose email is
    -- not, and only those few users need grouping. A group of one such user is a
    -- duplicate when another user's email is exactly the normalised one, and so is
    -- its own normalised email (the unique index on users.email finds it).
    select distinct g.norm_email
    from (
        select lower(btrim(o.email)) as norm_email, count(*) as members
        from users o
        where o.email <> lower(btrim(o.email))
          and lower(btrim(o.email)) in (select t.norm_email from therapist t)
          and ({twin_filter})
        group by 1
    ) g
    where g.members > 1
       or exists (select 1 from users x where x.email = g.norm_email and lower(btrim(x.email)) = g.norm_email)
),
ranked as (
    -- docs/rules.md §2: a therapist's enrollments are the one linked by user_id (user_id is
    -- unique, docs/rules.md §1) and the unlinked ones of its normalised email. The canonical one
    -- comes first in the order above, so it is the linked one or the first unlinked
    -- one; only a therapist that has both needs them compared.
    select
        t.*,
        (linked.id is not null)::int + coalesce(ul.unlinked_count, 0) as enrollment_count,
        case
            when ul.id is null then linked.id
            when linked.id is null then ul.id
            else (
                select c.id
                from (
                    values (linked.id, linked.status, linked.updated_at), (ul.id, ul.status, ul.updated_at)
                ) c(id, status, updated_at)
                order by (c.status = 'approved') desc, c.updated_at desc, c.id desc
                limit 1
            )
        end as canonical_id,
        (d.norm_email is not null) as duplicate_user
    from therapist t
    left join therapist_enrollments linked on linked.user_id = t.id
    left join unlinked ul on ul.norm_email = t.norm_email
    left join duplicate_email d on d.norm_email = t.norm_email
),
joined as (
    select
        r.id as therapist_id,
        r.email as u_email,
        r.norm_email,
        r.full_name as u_full_name,
        r.is_verified as u_is_verified,
        r.is_active as u_is_active,
        r.avatar_url as u_avatar_url,
        r.enrollment_count,
        -- The version of each row read (xmin changes with every UPDATE): a repair
        -- locks the rows it writes and re-plans a therapist whose rows changed since.
        r.u_xmin,
        e.xmin as e_xmin,
        p.xmin as p_xmin,
        e.id as e_id,
        e.user_id as e_user_id,
        e.email as e_email,
        e.full_name as e_full_name,
        e.bio as e_bio,
        e.experience_years as e_experience_years,
        e.specializations as e_specializations,
        e.specialization as e_specialization,
        e.profile_image_url as e_profile_image_url,
        e.status as e_status,
        e.is_active as e_is_active,
        p.id as p_id,
        p.licensed_qualification as p_licensed_qualification,
        p.bio as p_bio,
        p.experience_years as p_experience_years,
        p.specializations as p_specializations,
        p.profile_image_url as p_profile_image_url,
        p.verification_status as p_verification_status,
        p.is_verified as p_is_verified,
        -- docs/rules.md §3: the enrollment's list is specializations when non-empty, else the
        -- legacy text normalised (JSON array, or items split on commas or semicolons;
        -- each trimmed with inner white space collapsed; empty items and
        -- case-insensitive duplicates dropped, first spelling kept; order kept).
        l.e_list,
        r.duplicate_user,
        (e.id is not null and p.id is not null) as comparable
    from ranked r
    -- The canonical enrollment's row, read once: the list below is computed from its
    -- own columns, which lets PostgreSQL cache it per distinct value (Memoize).
    left join therapist_enrollments e on e.id = r.canonical_id
    left join therapist_profiles p on p.user_id = r.id
    -- OFFSET 0 keeps the subquery from being inlined, so the list is computed once
    -- per therapist however often the checks below read it.
    left join lateral (
        select
            case
                when cardinality(e.specializations) > 0 then e.specializations
                when e.specialization is not null then (
                    select array_agg(item order by first_position)
                    from (
                        select distinct on (lower(item)) item, position as first_position
                        from (
                            select btrim(regexp_replace(raw, '\s+', ' ', 'g')) as item, position
                            from unnest(
                                case
                                    -- A JSON array of strings: take each string literal, decoded as
                                    -- JSON ("Th\u00e9rapie" is "Thérapie") when it is a valid JSON
                                    -- string PostgreSQL can hold, else as written (a malformed legacy
                                    -- row must not fail the whole statement).
                                    when e.specialization ~ '^\s*\[' and strpos(e.specialization, '"') > 0 then array(
                                        select case
                                                   when m[1] ~ '^(?:[^"\\[:cntrl:]]|\\["\\/bfnrt]|\\u(?!0000)(?![dD][89a-fA-F])[0-9a-fA-F]{4})*$'
                                                       then ('"' || m[1] || '"')::jsonb #>> '{}'
                                                   else m[1]
                                               end
                                        from regexp_matches(e.specialization, '"((?:[^"\\]|\\.)*)"', 'g') as m
                                    )
                                    -- A list separated by commas or semicolons, possibly in brackets
                                    -- without quotes ("[CBT, DBT]").
                                    else regexp_split_to_array(
                                        regexp_replace(e.specialization, '^\s*\[(.*)\]\s*$', '\1'), '[,;]'
                                    )
                                end
                            ) with ordinality as raw_items(raw, position)
                        ) trimmed
                        where item <> ''
                        order by lower(item), position
                    ) deduplicated
                )
            end as e_list
        offset 0
    ) l on true
),
checked as (
    -- Field checks are evaluated only where the therapist has a canonical enrollment
    -- and a profile (docs/rules.md §3); elsewhere they are NULL, "not applicable".
    select
        j.*,
        -- avatar: all three equal, placeholder = NULL.
        case when j.comparable then
            nullif(j.u_avatar_url, '/placeholder.svg') is not distinct from nullif(j.e_profile_image_url, '/placeholder.svg')
            and nullif(j.p_profile_image_url, '/placeholder.svg') is not distinct from nullif(j.e_profile_image_url, '/placeholder.svg')
        end as avatar_ok,
        -- bio: NULL-safe equality.
        case when j.comparable then j.e_bio is not distinct from j.p_bio end as bio_ok,
        -- experience: equal, or the enrollment's is unknown (NULL or 0) and the profile's above 0.
        case when j.comparable then
            j.e_experience_years is not distinct from j.p_experience_years
            or (coalesce(j.e_experience_years, 0) = 0 and coalesce(j.p_experience_years, 0) > 0)
        end as experience_ok,
        -- verification: statuses agree ("verified" counts as "approved"); profile
        -- is_verified = approved; user is_verified true when approved, false when
        -- rejected, not checked otherwise.
        case when j.comparable then
            case when j.p_verification_status = 'verified' then 'approved' else j.p_verification_status end
                is not distinct from j.e_status
            and j.p_is_verified is not distinct from (j.e_status = 'approved')
            and case j.e_status
                    when 'approved' then j.u_is_verified is true
                    when 'rejected' then j.u_is_verified is false
                    else true
                end
        end as verification_ok,
        case when j.comparable then j.u_is_active is not distinct from j.e_is_active end as active_ok,
        case when j.comparable then j.u_full_name is not distinct from j.e_full_name end as name_ok,
        -- specializations: equal as case-insensitive sets, NULL = empty.
        case
            when not j.comparable then null
            -- Identical arrays need no set comparison (most rows, and cheap to tell), nor
            -- arrays that differ only in case: lowercasing an array's text lowercases
            -- each item and keeps its quoting, so equal texts mean equal lists.
            when j.e_list = j.p_specializations then true
            when lower(j.e_list::text) = lower(j.p_specializations::text) then true
            else array(select distinct lower(x) from unnest(j.e_list) x where x is not null order by 1)
                 = array(select distinct lower(x) from unnest(j.p_specializations) x where x is not null order by 1)
        end as specializations_ok,
        (j.e_id is not null and j.e_user_id is null) as unlinked_enrollment,
        (j.e_id is null) as missing_enrollment,
        (j.p_id is null) as missing_profile,
        (j.enrollment_count > 1) as duplicate_enrollment
    from joined j
    -- OFFSET 0: each check is computed once, however often consistent and the
    -- callers read it.
    offset 0
)
select
    c.*,
    coalesce(c.comparable
        and c.avatar_ok and c.bio_ok and c.experience_ok and c.verification_ok
        and c.active_ok and c.name_ok and c.specializations_ok
        and not c.unlinked_enrollment and not c.duplicate_enrollment
        and not c.duplicate_user, false) as consistent
from checked c
