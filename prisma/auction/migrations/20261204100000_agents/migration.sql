-- The agent registry (SPEC §4.3, §5b "Agents") and the reputation read model the auction
-- service builds from evt.reputation.score.updated (docs/AUCTIONS.md "Reputation at close").
CREATE TABLE "agents" (
    "id" UUID NOT NULL,
    "did" VARCHAR(200) NOT NULL,
    "owner_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "description" VARCHAR(2000),
    "capabilities" TEXT[] NOT NULL,
    "price_per_task" BIGINT NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'online',
    "max_capacity" INTEGER NOT NULL DEFAULT 10,
    "current_load" INTEGER NOT NULL DEFAULT 0,
    "region" VARCHAR(32),
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "retired_at" TIMESTAMPTZ(3),
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "agents_did_key" ON "agents"("did");
CREATE INDEX "agents_capabilities_idx" ON "agents" USING GIN ("capabilities");
CREATE INDEX "agents_owner_id_id_idx" ON "agents"("owner_id", "id");
CREATE INDEX "agents_status_last_seen_at_idx" ON "agents"("status", "last_seen_at");

CREATE TABLE "agent_scores" (
    "agent_id" UUID NOT NULL,
    "overall_hundredths" INTEGER NOT NULL,
    "quality_hundredths" INTEGER NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "agent_scores_pkey" PRIMARY KEY ("agent_id")
);

-- Data guards Prisma cannot express.
ALTER TABLE "agents" ADD CONSTRAINT "agents_status_check" CHECK ("status" IN ('online', 'busy', 'offline', 'maintenance'));
ALTER TABLE "agents" ADD CONSTRAINT "agents_capacity_check" CHECK ("max_capacity" BETWEEN 1 AND 1000 AND "current_load" BETWEEN 0 AND "max_capacity");
ALTER TABLE "agents" ADD CONSTRAINT "agents_price_check" CHECK ("price_per_task" BETWEEN 0 AND 9007199254740991);
ALTER TABLE "agents" ADD CONSTRAINT "agents_capabilities_check" CHECK (cardinality("capabilities") BETWEEN 1 AND 32);
ALTER TABLE "agents" ADD CONSTRAINT "agents_retired_check" CHECK ("retired_at" IS NULL OR "status" = 'offline');
ALTER TABLE "agent_scores" ADD CONSTRAINT "agent_scores_range_check" CHECK ("overall_hundredths" BETWEEN 0 AND 10000 AND "quality_hundredths" BETWEEN 0 AND 10000);
