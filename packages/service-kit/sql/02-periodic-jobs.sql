-- The table every service's migrations create for the kit's periodic jobs (packages/service-kit
-- src/jobs.ts). A service copies this file into a migration of its own; the kit's tests check
-- that every migrations folder under prisma/ creates it exactly like this.
CREATE TABLE "periodic_jobs" (
    "name" VARCHAR(100) NOT NULL,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL,
    "lease_until" TIMESTAMPTZ(3),
    "last_started_at" TIMESTAMPTZ(3),
    "last_finished_at" TIMESTAMPTZ(3),
    "last_error" TEXT,

    CONSTRAINT "periodic_jobs_pkey" PRIMARY KEY ("name")
);
