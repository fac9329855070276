-- CreateTable (the service kit's periodic jobs; as in packages/service-kit/sql/kit-tables.sql)
CREATE TABLE "periodic_jobs" (
    "name" VARCHAR(100) NOT NULL,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL,
    "lease_until" TIMESTAMPTZ(3),
    "last_started_at" TIMESTAMPTZ(3),
    "last_finished_at" TIMESTAMPTZ(3),
    "last_error" TEXT,

    CONSTRAINT "periodic_jobs_pkey" PRIMARY KEY ("name")
);
