-- The tables every service on the kit has, in the form its Prisma migrations create them. Each
-- service's migrations folder (prisma/<service>/migrations) must create these exactly;
-- packages/service-kit/test/kit-tables.test.ts checks it. Kit tests build scratch databases
-- from this file.

-- Events written in the same transaction as the change they describe; the outbox relay
-- publishes each with Nats-Msg-Id = id and the stored headers (W3C trace context, request id).
CREATE TABLE "outbox" (
    "id" UUID NOT NULL,
    "subject" VARCHAR(200) NOT NULL,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    "headers" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "outbox_published_at_occurred_at_idx" ON "outbox"("published_at", "occurred_at");

-- Event ids each consumer has applied, inserted in the same transaction as the consumer's
-- change, so a redelivered event is acknowledged without being applied again. Rows older than
-- the events stream keeps events (7 days) are pruned.
CREATE TABLE "processed_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

CREATE INDEX "processed_events_processed_at_idx" ON "processed_events"("processed_at");

-- The kit's periodic jobs (src/jobs.ts): one row per job; the replica whose UPDATE moves
-- next_run_at on runs it, and lease_until keeps a long run from starting twice.
CREATE TABLE "periodic_jobs" (
    "name" VARCHAR(100) NOT NULL,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL,
    "lease_until" TIMESTAMPTZ(3),
    "last_started_at" TIMESTAMPTZ(3),
    "last_finished_at" TIMESTAMPTZ(3),
    "last_error" TEXT,

    CONSTRAINT "periodic_jobs_pkey" PRIMARY KEY ("name")
);
