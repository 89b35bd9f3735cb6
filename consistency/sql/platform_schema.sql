-- The marketplace's therapist tables, as the platform creates them (docs/rules.md §1).
--
-- Production never runs this file: opsdash never migrates the platform database.
-- Tests and the demo run it to create the tables in a database that lacks them.
-- Columns opsdash does not map (phone, credits, documents, rates, partner fields)
-- are here on purpose, so that the tests prove the mapping tolerates them.

create table if not exists users (
    id uuid primary key default gen_random_uuid(),
    email varchar(255) not null unique,
    full_name varchar(255),
    user_type varchar(50) not null default 'individual',
    is_verified boolean not null default false,
    is_active boolean not null default true,
    avatar_url text,
    phone varchar(50),
    credits integer not null default 0,
    partner_id uuid,
    last_login_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table if not exists therapist_enrollments (
    id uuid primary key default gen_random_uuid(),
    user_id uuid references users(id) on delete cascade,
    email varchar(255) not null,
    full_name varchar(255) not null,
    phone varchar(50),
    licensed_qualification varchar(255),
    bio text,
    experience_years integer default 0,
    specializations text[],
    specialization text,
    languages text[],
    profile_image_url text default '/placeholder.svg',
    license_document_url text,
    status varchar(50) not null default 'pending',
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index if not exists therapist_enrollments_user_id_key
    on therapist_enrollments (user_id) where user_id is not null;

create table if not exists therapist_profiles (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null unique references users(id) on delete cascade,
    licensed_qualification varchar(50) not null,
    bio text,
    experience_years integer default 0,
    specializations text[],
    profile_image_url text,
    hourly_rate numeric(10, 2),
    verification_status varchar(50) not null default 'pending',
    is_verified boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- One of the platform's other tables: opsdash leaves it alone.
create table if not exists user_credits (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references users(id) on delete cascade,
    credits_balance integer not null default 0,
    created_at timestamptz not null default now()
);
