-- The platform team's log of failed syncs (docs/rules.md §1, GRACEFUL-DEGRADATION-PATTERN).
-- Production may lack it: this is idempotent, creates only the table and its index,
-- and never drops anything.
create table if not exists manual_intervention_log (
    id uuid primary key default gen_random_uuid(),
    operation text not null,
    entity_id text,
    error text not null,
    payload jsonb,
    "timestamp" timestamptz not null default now(),
    resolved boolean default false,
    resolved_at timestamptz,
    resolved_by text,
    resolution_notes text
);
create index if not exists manual_intervention_log_unresolved_idx
    on manual_intervention_log (resolved, "timestamp" desc) where resolved = false;
