-- The outbox every service's migrations create: events written in the same transaction as the
-- change they describe, published by the kit's relay (packages/database src/outbox.ts).
CREATE TABLE "outbox" (
    "id" UUID NOT NULL,
    "subject" VARCHAR(200) NOT NULL,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "outbox_published_at_occurred_at_idx" ON "outbox"("published_at", "occurred_at");
