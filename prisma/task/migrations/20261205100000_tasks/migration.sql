-- Tasks and their append-only history (SPEC §4.5, §5b "Tasks"). A task's money lives in the
-- payment service's escrow, keyed by the task id; `settlement` says what the saga still owes it
-- (capture or refund), `settled_at` when that was done.
CREATE TABLE "tasks" (
    "id" UUID NOT NULL,
    "requester_id" UUID NOT NULL,
    "requester_did" VARCHAR(200) NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "capabilities" TEXT[] NOT NULL,
    "input" JSONB NOT NULL,
    "budget" BIGINT NOT NULL,
    "timeout_seconds" INTEGER NOT NULL,
    "priority" VARCHAR(16) NOT NULL,
    "auction_terms" JSONB NOT NULL DEFAULT '{}',
    "status" VARCHAR(16) NOT NULL DEFAULT 'pending',
    "auction_id" UUID,
    "assigned_agent_id" UUID,
    "agent_owner_id" UUID,
    "cost" BIGINT,
    "output" JSONB,
    "error" VARCHAR(2000),
    "failure_reason" VARCHAR(32),
    "settlement" VARCHAR(16),
    "settled_at" TIMESTAMPTZ(3),
    "idempotency_key" VARCHAR(255),
    "request_hash" CHAR(64),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "assigned_at" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3),
    "submitted_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "timeout_at" TIMESTAMPTZ(3),
    "review_deadline" TIMESTAMPTZ(3),

    CONSTRAINT "tasks_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "tasks_requester_id_idempotency_key_key" ON "tasks"("requester_id", "idempotency_key");
CREATE INDEX "tasks_requester_id_id_idx" ON "tasks"("requester_id", "id");
CREATE INDEX "tasks_agent_owner_id_id_idx" ON "tasks"("agent_owner_id", "id");
CREATE INDEX "tasks_assigned_agent_id_status_idx" ON "tasks"("assigned_agent_id", "status");
CREATE INDEX "tasks_status_timeout_at_idx" ON "tasks"("status", "timeout_at");
CREATE INDEX "tasks_status_review_deadline_idx" ON "tasks"("status", "review_deadline");
CREATE INDEX "tasks_settlement_settled_at_idx" ON "tasks"("settlement", "settled_at");

-- One row per transition, never changed or removed (triggers below).
CREATE TABLE "task_transitions" (
    "id" UUID NOT NULL,
    "task_id" UUID NOT NULL,
    "from_status" VARCHAR(16) NOT NULL,
    "to_status" VARCHAR(16) NOT NULL,
    "action" VARCHAR(32) NOT NULL,
    "actor" VARCHAR(200) NOT NULL,
    "detail" JSONB NOT NULL DEFAULT '{}',
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "task_transitions_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "task_transitions_task_id_at_idx" ON "task_transitions"("task_id", "at");

ALTER TABLE "task_transitions" ADD CONSTRAINT "task_transitions_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- Data guards Prisma cannot express.
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_status_check" CHECK ("status" IN ('pending', 'auctioning', 'assigned', 'running', 'submitted', 'disputed', 'completed', 'failed', 'timed_out', 'canceled'));
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_priority_check" CHECK ("priority" IN ('low', 'normal', 'high', 'critical'));
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_money_check" CHECK ("budget" BETWEEN 1 AND 9007199254740991 AND ("cost" IS NULL OR "cost" BETWEEN 0 AND "budget"));
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_timeout_check" CHECK ("timeout_seconds" BETWEEN 1 AND 300);
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_settlement_check" CHECK ("settlement" IS NULL OR "settlement" IN ('capture', 'refund'));
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_failed_error_check" CHECK ("status" <> 'failed' OR coalesce(length("error"), 0) > 0);

CREATE FUNCTION task_transitions_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'task_transitions is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER task_transitions_no_update BEFORE UPDATE OR DELETE ON "task_transitions"
  FOR EACH ROW EXECUTE FUNCTION task_transitions_append_only();
CREATE TRIGGER task_transitions_no_truncate BEFORE TRUNCATE ON "task_transitions"
  FOR EACH STATEMENT EXECUTE FUNCTION task_transitions_append_only();
