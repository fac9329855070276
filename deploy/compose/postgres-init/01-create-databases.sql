-- Runs once, when the compose Postgres volume is first created. Each service owns its own
-- database (SPEC §2); the migration one-shots also create theirs when missing, so this file only
-- makes a fresh stack start without that round trip. Add one line per new service.
CREATE DATABASE zerostate_auction;
CREATE DATABASE zerostate_auth;
CREATE DATABASE zerostate_payment;
CREATE DATABASE zerostate_reputation;
CREATE DATABASE zerostate_task;
