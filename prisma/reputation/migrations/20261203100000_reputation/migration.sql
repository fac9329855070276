-- The reputation service's tables (prisma/reputation/schema.prisma). CHECK constraints back up
-- the domain's bounds: ratings 1–5, scores 0–100.00 in hundredths, no negative amounts or counts.

-- CreateTable
CREATE TABLE "agent_performance" (
    "agent_id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "capabilities" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "status" VARCHAR(20),
    "profile_updated_at" TIMESTAMPTZ(3),
    "total_tasks" INTEGER NOT NULL DEFAULT 0,
    "successful_tasks" INTEGER NOT NULL DEFAULT 0,
    "failed_tasks" INTEGER NOT NULL DEFAULT 0,
    "timed_out_tasks" INTEGER NOT NULL DEFAULT 0,
    "ratings_count" INTEGER NOT NULL DEFAULT 0,
    "ratings_sum" INTEGER NOT NULL DEFAULT 0,
    "bids_submitted" INTEGER NOT NULL DEFAULT 0,
    "auctions_won" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agent_performance_pkey" PRIMARY KEY ("agent_id"),
    CONSTRAINT "agent_performance_counts_not_negative" CHECK (
        "total_tasks" >= 0 AND "successful_tasks" >= 0 AND "failed_tasks" >= 0 AND "timed_out_tasks" >= 0
        AND "ratings_count" >= 0 AND "ratings_sum" >= 0 AND "bids_submitted" >= 0 AND "auctions_won" >= 0)
);

-- CreateTable
CREATE TABLE "scores" (
    "agent_id" UUID NOT NULL,
    "overall_hundredths" INTEGER NOT NULL,
    "reliability_hundredths" INTEGER NOT NULL,
    "quality_hundredths" INTEGER NOT NULL,
    "speed_hundredths" INTEGER NOT NULL,
    "version" BIGINT NOT NULL,
    "computed_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "scores_pkey" PRIMARY KEY ("agent_id"),
    CONSTRAINT "scores_within_0_and_100" CHECK (
        "overall_hundredths" BETWEEN 0 AND 10000 AND "reliability_hundredths" BETWEEN 0 AND 10000
        AND "quality_hundredths" BETWEEN 0 AND 10000 AND "speed_hundredths" BETWEEN 0 AND 10000),
    CONSTRAINT "scores_version_positive" CHECK ("version" >= 1)
);

-- CreateTable
CREATE TABLE "score_events" (
    "id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "requester_id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "kind" VARCHAR(20) NOT NULL,
    "amount_micro" BIGINT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "self_dealt" BOOLEAN NOT NULL,
    "reliability" DOUBLE PRECISION,
    "quality" DOUBLE PRECISION,
    "speed" DOUBLE PRECISION,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "score_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "score_events_kind" CHECK ("kind" IN ('completed', 'failed', 'timed_out', 'rating')),
    CONSTRAINT "score_events_amount_not_negative" CHECK ("amount_micro" >= 0),
    CONSTRAINT "score_events_values_within_0_and_1" CHECK (
        ("reliability" IS NULL OR "reliability" BETWEEN 0 AND 1)
        AND ("quality" IS NULL OR "quality" BETWEEN 0 AND 1)
        AND ("speed" IS NULL OR "speed" BETWEEN 0 AND 1))
);

-- CreateTable
CREATE TABLE "tasks" (
    "task_id" UUID NOT NULL,
    "requester_id" UUID NOT NULL,
    "agent_id" UUID,
    "agent_owner_id" UUID,
    "status" VARCHAR(20) NOT NULL,
    "cost_micro" BIGINT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("task_id"),
    CONSTRAINT "tasks_status" CHECK ("status" IN ('awarded', 'completed', 'failed', 'timed_out')),
    CONSTRAINT "tasks_cost_not_negative" CHECK ("cost_micro" IS NULL OR "cost_micro" >= 0)
);

-- CreateTable
CREATE TABLE "ratings" (
    "task_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "requester_id" UUID NOT NULL,
    "rating" SMALLINT NOT NULL,
    "comment" VARCHAR(1000),
    "cost_micro" BIGINT NOT NULL,
    "idempotency_key" VARCHAR(255),
    "fingerprint" VARCHAR(64),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ratings_pkey" PRIMARY KEY ("task_id"),
    CONSTRAINT "ratings_rating_1_to_5" CHECK ("rating" BETWEEN 1 AND 5),
    CONSTRAINT "ratings_cost_not_negative" CHECK ("cost_micro" >= 0)
);

-- CreateTable
CREATE TABLE "dealings" (
    "requester_id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "first_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dealings_pkey" PRIMARY KEY ("requester_id","owner_id")
);

-- CreateIndex
CREATE INDEX "agent_performance_owner_id_idx" ON "agent_performance"("owner_id");

-- CreateIndex
CREATE INDEX "agent_performance_capabilities_idx" ON "agent_performance" USING GIN ("capabilities");

-- CreateIndex
CREATE INDEX "scores_overall_hundredths_agent_id_idx" ON "scores"("overall_hundredths" DESC, "agent_id");

-- CreateIndex
CREATE INDEX "scores_computed_at_idx" ON "scores"("computed_at");

-- CreateIndex
CREATE INDEX "score_events_agent_id_idx" ON "score_events"("agent_id");

-- CreateIndex
CREATE INDEX "score_events_requester_id_idx" ON "score_events"("requester_id");

-- CreateIndex
CREATE UNIQUE INDEX "score_events_task_id_kind_key" ON "score_events"("task_id", "kind");

-- CreateIndex
CREATE INDEX "ratings_agent_id_idx" ON "ratings"("agent_id");

-- CreateIndex
CREATE UNIQUE INDEX "ratings_requester_id_idempotency_key_key" ON "ratings"("requester_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "dealings_owner_id_idx" ON "dealings"("owner_id");
