-- Demo and benchmark data for the platform tables (seed_platform; never production).
--
-- Everything is generated in the database, set-based, from generate_series: the
-- values are pseudo-random but come from hashtextextended(tag || i, seed), so a seed
-- always gives the same rows (timestamps are relative to the day of seeding).
-- Each kind of drift of docs/rules.md §3 hits about RATE of the therapists on its own;
-- link problems a fifth of that, but unlinked enrollments as often as drift (older
-- rows often lack user_id, docs/rules.md §1).

create or replace function pg_temp.rnd(seed bigint, i bigint, tag text) returns float8
language sql immutable as $$
    select (hashtextextended(tag || i::text, seed) & 9223372036854775807)::float8 / 9223372036854775807.0
$$;

create or replace function pg_temp.pick(items text[], r float8) returns text
language sql immutable as $$ select items[1 + floor(r * cardinality(items))::int] $$;

drop table if exists pg_temp.seed_plan;

create temporary table seed_plan on commit drop as
with base as (
    select i,
           pg_temp.rnd(%(seed)s, i, 'first') as r_first,
           pg_temp.rnd(%(seed)s, i, 'last') as r_last
    from generate_series(1, %(therapists)s::bigint) as i
)
select
    i,
    md5(%(seed)s::text || ':user:' || i)::uuid as user_id,
    md5(%(seed)s::text || ':enrollment:' || i)::uuid as enrollment_id,
    md5(%(seed)s::text || ':profile:' || i)::uuid as profile_id,
    pg_temp.pick(array['Adaeze','Chinedu','Ngozi','Tunde','Amara','Kelechi','Funmi','Emeka','Zainab','Ifeoma',
                       'Olu','Bola','Grace','Daniel','Sarah','Michael','Aisha','Ibrahim','Chioma','David',
                       'Fatima','Samuel','Joy','Peter','Blessing','Yusuf','Esther','John','Mary','Ahmed'], r_first) as first_name,
    pg_temp.pick(array['Okafor','Adeyemi','Eze','Bello','Okonkwo','Balogun','Nwosu','Ibrahim','Ogunleye','Obi',
                       'Mensah','Johnson','Williams','Abubakar','Onyeka','Adebayo','Chukwu','Lawal','Afolabi','Uche',
                       'Smith','Brown','Garcia','Okoro','Danjuma','Akande','Nnamdi','Ayodele','Musa','Edet'], r_last) as last_name,
    pg_temp.rnd(%(seed)s, i, 'case') as r_case,
    pg_temp.rnd(%(seed)s, i, 'status') as r_status,
    pg_temp.rnd(%(seed)s, i, 'image') as r_image,
    pg_temp.rnd(%(seed)s, i, 'bio') as r_bio,
    pg_temp.rnd(%(seed)s, i, 'exp') as r_exp,
    pg_temp.rnd(%(seed)s, i, 'spec') as r_spec,
    pg_temp.rnd(%(seed)s, i, 'format') as r_format,
    pg_temp.rnd(%(seed)s, i, 'age') as r_age,
    pg_temp.rnd(%(seed)s, i, 'd_avatar') < %(drift)s as d_avatar,
    pg_temp.rnd(%(seed)s, i, 'd_bio') < %(drift)s as d_bio,
    pg_temp.rnd(%(seed)s, i, 'd_exp') < %(drift)s as d_experience,
    pg_temp.rnd(%(seed)s, i, 'd_verif') < %(drift)s as d_verification,
    pg_temp.rnd(%(seed)s, i, 'd_active') < %(drift)s as d_active,
    pg_temp.rnd(%(seed)s, i, 'd_name') < %(drift)s as d_name,
    pg_temp.rnd(%(seed)s, i, 'd_spec') < %(drift)s as d_specializations,
    pg_temp.rnd(%(seed)s, i, 'l_unlinked') < %(drift)s as l_unlinked,
    pg_temp.rnd(%(seed)s, i, 'l_no_enr') < %(drift)s / 5 as l_missing_enrollment,
    pg_temp.rnd(%(seed)s, i, 'l_no_prof') < %(drift)s / 5 as l_missing_profile,
    pg_temp.rnd(%(seed)s, i, 'l_dup_enr') < %(drift)s / 5 as l_duplicate_enrollment,
    pg_temp.rnd(%(seed)s, i, 'l_dup_user') < %(drift)s / 5 as l_duplicate_user
from base;

alter table seed_plan add column email text, add column status text, add column image text,
    add column bio text, add column experience int, add column specializations text[],
    add column updated_at timestamptz;

update seed_plan set
    email = lower(first_name || '.' || last_name || i || '@' ||
                  pg_temp.pick(array['gmail.com','yahoo.com','outlook.com','thequietherapy.live','icloud.com'], r_case)),
    status = case when r_status < 0.7 then 'approved' when r_status < 0.9 then 'pending' else 'rejected' end,
    image = case when r_image < 0.75 then 'https://cdn.thequietherapy.live/avatars/' || user_id || '.jpg' end,
    bio = case when r_bio < 0.05 then null else
        'I am a ' || pg_temp.pick(array['licensed clinical psychologist','counselling psychologist','psychotherapist',
                                        'licensed professional counsellor','clinical social worker'], r_bio)
        || ' helping adults with ' || pg_temp.pick(array['anxiety and stress','depression and low mood','trauma and PTSD',
                                        'relationships and family conflict','grief and loss','burnout at work'], r_exp)
        || '. ' || pg_temp.pick(array['My approach is warm and practical.','I draw on CBT and mindfulness.',
                                      'Sessions are collaborative and paced for you.','I believe healing happens in safe relationships.'], r_spec)
        end,
    experience = 1 + floor(r_exp * 25)::int,
    -- The empty legacy text ('') stands for a therapist who never listed any.
    specializations = case when r_format >= 0.95 then null else (
        select array_agg(s order by o)
        from unnest(array['Anxiety','Depression','CBT','DBT','Trauma','PTSD','Couples Therapy','Grief',
                          'ADHD','Addiction','Family Therapy','Mindfulness','Stress Management','OCD'])
             with ordinality as pool(s, o)
        where pg_temp.rnd(%(seed)s, i * 16 + o, 'spec-item') < 0.22
    ) end,
    updated_at = date_trunc('day', now()) - make_interval(days => floor(r_age * 900)::int, secs => i);

-- Every therapist's account. Emails are stored as typed: some in another case or
-- with a trailing space (docs/rules.md §1: magic-link sign-in keeps the raw email).
insert into users (id, email, full_name, user_type, is_verified, is_active, avatar_url, phone, credits,
                   created_at, updated_at)
select user_id,
       case when r_case < 0.15 then initcap(email) when r_case > 0.97 then email || ' ' else email end,
       case when d_name then
            case when r_bio < 0.5 then null else upper(first_name) || ' ' || last_name end
            else first_name || ' ' || last_name end,
       'therapist',
       case when d_verification and status = 'approved' and r_status < 0.35 then false
            when status = 'approved' then true
            when status = 'rejected' then false
            else r_case < 0.5 end,
       case when d_active then false else true end,
       case when d_avatar and r_image < 0.4 then 'https://cdn.thequietherapy.live/avatars/' || user_id || '-new.jpg'
            else image end,
       '+234' || (800000000 + i)::text,
       floor(r_age * 10)::int,
       updated_at - interval '30 days',
       updated_at
from seed_plan;

-- The canonical enrollment: the app lowercases emails, older rows may not be; older
-- rows often have no user_id.
insert into therapist_enrollments (id, user_id, email, full_name, phone, bio, experience_years,
                                   specializations, specialization, profile_image_url, status, is_active,
                                   created_at, updated_at)
select enrollment_id,
       case when l_unlinked then null else user_id end,
       case when l_unlinked and r_case < 0.5 then upper(email)
            when l_unlinked then ' ' || email
            else email end,
       first_name || ' ' || last_name,
       '+234' || (800000000 + i)::text,
       bio,
       -- The enrollment form never writes experience: mostly 0 ("unknown").
       case when d_experience then experience + 3 when r_exp < 0.6 then 0 else experience end,
       case when r_format < 0.6 then specializations
            when r_format < 0.8 then null
            else '{}'::text[] end,
       case when r_format < 0.6 then null
            when r_format < 0.7 then array_to_string(specializations, ', ')
            when r_format < 0.8 then lower(array_to_string(specializations, ';  '))
            when r_format < 0.95 then coalesce(array_to_json(specializations)::text, '[]')
            else '' end,
       coalesce(image, '/placeholder.svg'),
       status,
       true,
       updated_at - interval '60 days',
       updated_at
from seed_plan
where not l_missing_enrollment;

insert into therapist_profiles (id, user_id, licensed_qualification, bio, experience_years, specializations,
                                profile_image_url, hourly_rate, verification_status, is_verified,
                                created_at, updated_at)
select profile_id,
       user_id,
       pg_temp.pick(array['MSc Clinical Psychology','PhD Psychology','MA Counselling','LCSW','LPC','MBBS Psychiatry'], r_exp),
       case when d_bio then
            case when r_bio between 0.05 and 0.3 then null when r_bio < 0.5 then '' else 'Former bio: ' || coalesce(bio, '') end
            else bio end,
       experience,
       case when d_specializations then array_append(coalesce(specializations[2:], '{}'), 'Life Coaching')
            when r_case < 0.3 then (select array_agg(lower(s)) from unnest(specializations) s)
            else specializations end,
       case when d_avatar and r_image >= 0.75 then 'https://cdn.thequietherapy.live/avatars/' || user_id || '-old.jpg'
            when d_avatar and r_image >= 0.4 then null
            else image end,
       5000 + floor(r_exp * 20) * 1000,
       case when d_verification and r_status >= 0.35 then
                case status when 'approved' then 'pending' when 'pending' then 'approved' else 'pending' end
            when status = 'approved' and r_format < 0.1 then 'verified'
            else status end,
       case when d_verification and r_status >= 0.35 then status <> 'approved' else status = 'approved' end,
       updated_at - interval '59 days',
       updated_at
from seed_plan
where not l_missing_profile;

-- duplicate-enrollment: an older, pending application under the same email, unlinked.
insert into therapist_enrollments (id, user_id, email, full_name, bio, experience_years, specializations,
                                   specialization, profile_image_url, status, is_active, created_at, updated_at)
select md5(%(seed)s::text || ':duplicate-enrollment:' || i)::uuid, null, upper(email), first_name || ' ' || last_name,
       null, 0, null, 'Anxiety', '/placeholder.svg', 'pending', true,
       updated_at - interval '400 days', updated_at - interval '300 days'
from seed_plan
where l_duplicate_enrollment and not l_missing_enrollment;

-- duplicate-user: a second account whose email differs only in case.
insert into users (id, email, full_name, user_type, is_verified, is_active, created_at, updated_at)
select md5(%(seed)s::text || ':duplicate-user:' || i)::uuid, upper(email), first_name || ' ' || last_name,
       'individual', true, true, updated_at - interval '10 days', updated_at - interval '10 days'
from seed_plan
where l_duplicate_user;

-- orphan-enrollment: approved applications whose email matches no account.
insert into therapist_enrollments (id, user_id, email, full_name, bio, experience_years, specializations,
                                   profile_image_url, status, is_active, created_at, updated_at)
select md5(%(seed)s::text || ':orphan:' || i)::uuid, null, 'orphan.' || email, first_name || ' ' || last_name,
       bio, 0, specializations, '/placeholder.svg', 'approved', true,
       updated_at - interval '90 days', updated_at
from seed_plan
where pg_temp.rnd(%(seed)s, i, 'orphan') < %(drift)s / 5;

-- Clients and partners: not therapists, so the checks ignore them and their rows.
insert into users (id, email, full_name, user_type, is_verified, is_active, phone, credits, created_at, updated_at)
select md5(%(seed)s::text || ':client:' || i)::uuid,
       'client' || i || '@example.com',
       'Client ' || i,
       case when mod(i, 50) = 0 then 'partner' when mod(i, 997) = 0 then 'admin' else 'individual' end,
       true, true, null, floor(pg_temp.rnd(%(seed)s, i, 'credits') * 20)::int,
       date_trunc('day', now()) - make_interval(days => mod(i, 700)::int),
       date_trunc('day', now()) - make_interval(days => mod(i, 700)::int)
from generate_series(1, greatest(%(therapists)s / 4, 1)) as i;

-- A client's abandoned application: a non-therapist's enrollment, ignored by the checks.
insert into therapist_enrollments (id, user_id, email, full_name, status, created_at, updated_at)
select md5(%(seed)s::text || ':client-enrollment:' || i)::uuid, md5(%(seed)s::text || ':client:' || i)::uuid,
       'client' || i || '@example.com', 'Client ' || i, 'rejected', now() - interval '100 days', now() - interval '100 days'
from generate_series(1, greatest(%(therapists)s / 4, 1)) as i
where mod(i, 40) = 7;
