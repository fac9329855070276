-- Sealed-bid auctions and their bids (SPEC §4.3, §5b "Auctions", "Bids"). A task's auction is
-- unique per task; an agent has at most one live bid per auction (a re-bid replaces it).
CREATE TABLE "auctions" (
    "id" UUID NOT NULL,
    "task_id" UUID,
    "requester_id" UUID NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'open',
    "capabilities" TEXT[] NOT NULL,
    "max_price" BIGINT NOT NULL,
    "reserve_price" BIGINT,
    "min_reputation" INTEGER NOT NULL DEFAULT 0,
    "timeout_seconds" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "closed_at" TIMESTAMPTZ(3),
    "winner_bid_id" UUID,
    "price" BIGINT,
    "clearing" JSONB,

    CONSTRAINT "auctions_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "auctions_task_id_key" ON "auctions"("task_id");
CREATE INDEX "auctions_status_expires_at_idx" ON "auctions"("status", "expires_at");
CREATE INDEX "auctions_requester_id_id_idx" ON "auctions"("requester_id", "id");

CREATE TABLE "bids" (
    "id" UUID NOT NULL,
    "auction_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "owner_id" UUID NOT NULL,
    "price" BIGINT NOT NULL,
    "estimated_time_seconds" INTEGER NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'live',
    "idempotency_key" VARCHAR(255),
    "request_hash" CHAR(64),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bids_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "bids_auction_id_fkey" FOREIGN KEY ("auction_id") REFERENCES "auctions"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "bids_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "agents"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "bids_auction_id_status_idx" ON "bids"("auction_id", "status");
CREATE INDEX "bids_agent_id_idx" ON "bids"("agent_id");
CREATE UNIQUE INDEX "bids_owner_id_idempotency_key_key" ON "bids"("owner_id", "idempotency_key");

-- Data guards Prisma cannot express.
CREATE UNIQUE INDEX "bids_one_live_per_agent" ON "bids"("auction_id", "agent_id") WHERE "status" = 'live';
ALTER TABLE "auctions" ADD CONSTRAINT "auctions_type_check" CHECK ("type" IN ('first_price', 'second_price', 'reserve'));
ALTER TABLE "auctions" ADD CONSTRAINT "auctions_status_check" CHECK ("status" IN ('open', 'awarded', 'expired', 'canceled'));
ALTER TABLE "auctions" ADD CONSTRAINT "auctions_prices_check" CHECK ("max_price" BETWEEN 1 AND 9007199254740991 AND ("reserve_price" IS NULL OR "reserve_price" BETWEEN 0 AND "max_price") AND ("type" <> 'reserve' OR "reserve_price" IS NOT NULL));
ALTER TABLE "auctions" ADD CONSTRAINT "auctions_outcome_check" CHECK (("status" = 'awarded') = ("winner_bid_id" IS NOT NULL AND "price" IS NOT NULL) AND ("status" = 'open') = ("closed_at" IS NULL));
ALTER TABLE "bids" ADD CONSTRAINT "bids_status_check" CHECK ("status" IN ('live', 'replaced', 'won', 'lost', 'withdrawn'));
