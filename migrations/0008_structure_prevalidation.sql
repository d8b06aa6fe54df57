-- Whether a structure has its conventions pre-validated by a mediator before
-- a manager validates them: a setting its managers keep, read by the
-- convention's rules when it is validated. Off for every structure so far,
-- as the rules read it before it was stored.
alter table structures add column prevalidation_required boolean not null default false;
