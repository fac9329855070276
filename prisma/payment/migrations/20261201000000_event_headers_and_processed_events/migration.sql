-- Events carry the W3C trace context and request id of the work that enqueued them; the outbox
-- relay publishes them as NATS headers, so consumers continue the producer's trace. Rows written
-- before this migration get an empty object.
-- AlterTable
ALTER TABLE "outbox" ADD COLUMN "headers" JSONB NOT NULL DEFAULT '{}';

-- Event ids each consumer has applied, inserted in the consumer's own transaction, so a
-- redelivered event is acknowledged without being applied twice. The same DDL as
-- packages/service-kit/sql/kit-tables.sql (a kit test compares them).
-- CreateTable
CREATE TABLE "processed_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- Pruning deletes by age.
-- CreateIndex
CREATE INDEX "processed_events_processed_at_idx" ON "processed_events"("processed_at");
