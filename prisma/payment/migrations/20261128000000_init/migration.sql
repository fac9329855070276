-- CreateTable
CREATE TABLE "accounts" (
    "id" UUID NOT NULL,
    "owner_did" VARCHAR(200) NOT NULL,
    "available" BIGINT NOT NULL DEFAULT 0,
    "held" BIGINT NOT NULL DEFAULT 0,
    "total_deposited" BIGINT NOT NULL DEFAULT 0,
    "total_withdrawn" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "transfers" (
    "id" UUID NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "amount" BIGINT NOT NULL,
    "reference_id" VARCHAR(200),
    "request_id" VARCHAR(128),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "transfers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ledger_entries" (
    "id" BIGSERIAL NOT NULL,
    "transfer_id" UUID NOT NULL,
    "account_id" UUID,
    "channel_id" UUID,
    "book" VARCHAR(16) NOT NULL,
    "amount" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment_channels" (
    "id" UUID NOT NULL,
    "payer_account_id" UUID NOT NULL,
    "payer_did" VARCHAR(200) NOT NULL,
    "payee_account_id" UUID NOT NULL,
    "payee_did" VARCHAR(200) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "deposit" BIGINT NOT NULL,
    "paid" BIGINT NOT NULL DEFAULT 0,
    "locked" BIGINT NOT NULL,
    "sequence_number" BIGINT NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "closed_at" TIMESTAMPTZ(3),
    "closed_by_did" VARCHAR(200),
    "settled_amount" BIGINT,
    "refunded_amount" BIGINT,

    CONSTRAINT "payment_channels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "channel_transactions" (
    "id" UUID NOT NULL,
    "channel_id" UUID NOT NULL,
    "sequence_number" BIGINT NOT NULL,
    "amount" BIGINT NOT NULL,
    "delta" BIGINT NOT NULL,
    "signature" VARCHAR(512),
    "request_id" VARCHAR(128),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "channel_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "escrows" (
    "task_id" UUID NOT NULL,
    "payer_account_id" UUID NOT NULL,
    "payer_did" VARCHAR(200) NOT NULL,
    "amount" BIGINT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "payee_did" VARCHAR(200),
    "captured_amount" BIGINT,
    "returned_amount" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "settled_at" TIMESTAMPTZ(3),

    CONSTRAINT "escrows_pkey" PRIMARY KEY ("task_id")
);

-- CreateTable
CREATE TABLE "idempotency_records" (
    "scope" VARCHAR(200) NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "endpoint" VARCHAR(64) NOT NULL,
    "fingerprint" CHAR(64) NOT NULL,
    "response" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_records_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "reconciliation_runs" (
    "id" UUID NOT NULL,
    "trigger" VARCHAR(16) NOT NULL,
    "violations" INTEGER NOT NULL,
    "report" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reconciliation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_did" VARCHAR(200),
    "action" VARCHAR(64) NOT NULL,
    "target_id" VARCHAR(200),
    "ip" VARCHAR(64),
    "user_agent" VARCHAR(512),
    "request_id" VARCHAR(128),
    "metadata" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbox" (
    "id" UUID NOT NULL,
    "subject" VARCHAR(200) NOT NULL,
    "payload" JSONB NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "accounts_owner_did_key" ON "accounts"("owner_did");

-- CreateIndex
CREATE INDEX "transfers_created_at_idx" ON "transfers"("created_at");

-- CreateIndex
CREATE INDEX "ledger_entries_account_id_id_idx" ON "ledger_entries"("account_id", "id");

-- CreateIndex
CREATE INDEX "ledger_entries_channel_id_idx" ON "ledger_entries"("channel_id");

-- CreateIndex
CREATE INDEX "ledger_entries_transfer_id_idx" ON "ledger_entries"("transfer_id");

-- CreateIndex
CREATE INDEX "payment_channels_payer_did_id_idx" ON "payment_channels"("payer_did", "id");

-- CreateIndex
CREATE INDEX "payment_channels_payee_did_id_idx" ON "payment_channels"("payee_did", "id");

-- CreateIndex
CREATE INDEX "payment_channels_payer_account_id_status_idx" ON "payment_channels"("payer_account_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "channel_transactions_channel_id_sequence_number_key" ON "channel_transactions"("channel_id", "sequence_number");

-- CreateIndex
CREATE INDEX "escrows_payer_account_id_idx" ON "escrows"("payer_account_id");

-- CreateIndex
CREATE INDEX "idempotency_records_created_at_idx" ON "idempotency_records"("created_at");

-- CreateIndex
CREATE INDEX "reconciliation_runs_created_at_idx" ON "reconciliation_runs"("created_at");

-- CreateIndex
CREATE INDEX "audit_log_actor_did_occurred_at_idx" ON "audit_log"("actor_did", "occurred_at");

-- CreateIndex
CREATE INDEX "audit_log_action_occurred_at_idx" ON "audit_log"("action", "occurred_at");

-- CreateIndex
CREATE INDEX "outbox_published_at_occurred_at_idx" ON "outbox"("published_at", "occurred_at");

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_transfer_id_fkey" FOREIGN KEY ("transfer_id") REFERENCES "transfers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_account_id_fkey" FOREIGN KEY ("account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "payment_channels"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_payer_account_id_fkey" FOREIGN KEY ("payer_account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_payee_account_id_fkey" FOREIGN KEY ("payee_account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "channel_transactions" ADD CONSTRAINT "channel_transactions_channel_id_fkey" FOREIGN KEY ("channel_id") REFERENCES "payment_channels"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "escrows" ADD CONSTRAINT "escrows_payer_account_id_fkey" FOREIGN KEY ("payer_account_id") REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Data guards Prisma cannot express (it ignores CHECK constraints, partial indexes, triggers and
-- views when diffing, so these cause no drift for `prisma migrate diff`).

-- Every balance is a non-negative integer no larger than 2^53 - 1, so JSON carries it exactly.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balances_check" CHECK (
    "available" BETWEEN 0 AND 9007199254740991 AND "held" BETWEEN 0 AND 9007199254740991
    AND "total_deposited" BETWEEN 0 AND 9007199254740991 AND "total_withdrawn" BETWEEN 0 AND 9007199254740991);
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_owner_did_check" CHECK ("owner_did" LIKE 'did:%');

ALTER TABLE "transfers" ADD CONSTRAINT "transfers_amount_check" CHECK ("amount" > 0);
ALTER TABLE "transfers" ADD CONSTRAINT "transfers_kind_check" CHECK ("kind" IN ('deposit', 'withdrawal',
    'channel_funding', 'channel_settlement', 'channel_refund',
    'escrow_hold', 'escrow_capture', 'escrow_return', 'escrow_refund'));

-- An entry moves money on exactly one book: an account's, or a channel's.
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_amount_check" CHECK ("amount" <> 0);
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_book_check" CHECK (
    ("book" IN ('available', 'held', 'external') AND "account_id" IS NOT NULL AND "channel_id" IS NULL)
    OR ("book" = 'channel' AND "channel_id" IS NOT NULL AND "account_id" IS NULL));

-- An open channel holds its whole deposit; a closed or expired one holds nothing.
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_amounts_check" CHECK (
    "deposit" > 0 AND "paid" BETWEEN 0 AND "deposit" AND "sequence_number" >= 0
    AND (("status" = 'open' AND "locked" = "deposit") OR ("status" IN ('closed', 'expired') AND "locked" = 0)));
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_status_check" CHECK ("status" IN ('open', 'closed', 'expired'));
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_parties_check" CHECK ("payer_did" <> "payee_did");
ALTER TABLE "payment_channels" ADD CONSTRAINT "payment_channels_settlement_check" CHECK (
    "status" = 'open' OR ("settled_amount" = "paid" AND "refunded_amount" = "deposit" - "paid" AND "closed_at" IS NOT NULL));

ALTER TABLE "channel_transactions" ADD CONSTRAINT "channel_transactions_amounts_check" CHECK (
    "sequence_number" > 0 AND "delta" > 0 AND "amount" >= "delta");

ALTER TABLE "escrows" ADD CONSTRAINT "escrows_status_check" CHECK ("status" IN ('held', 'captured', 'refunded'));
ALTER TABLE "escrows" ADD CONSTRAINT "escrows_amounts_check" CHECK (
    "amount" > 0
    AND ("status" <> 'captured' OR ("captured_amount" BETWEEN 0 AND "amount" AND "returned_amount" = "amount" - "captured_amount" AND "payee_did" IS NOT NULL))
    AND ("status" <> 'refunded' OR "returned_amount" = "amount"));

ALTER TABLE "idempotency_records" ADD CONSTRAINT "idempotency_records_fingerprint_check" CHECK ("fingerprint" ~ '^[0-9a-f]{64}$');

-- A one-time movement (funding, settling or refunding a channel; holding, capturing, returning or
-- refunding an escrow) can exist once per channel or task, whatever retries or replicas do.
CREATE UNIQUE INDEX "transfers_one_time_key" ON "transfers"("kind", "reference_id")
    WHERE "kind" NOT IN ('deposit', 'withdrawal');

-- The ledger is append-only: a correction is a new transfer, never an edit.
CREATE FUNCTION "refuse_ledger_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER "transfers_append_only" BEFORE UPDATE OR DELETE ON "transfers"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();
CREATE TRIGGER "ledger_entries_append_only" BEFORE UPDATE OR DELETE ON "ledger_entries"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();
CREATE TRIGGER "channel_transactions_append_only" BEFORE UPDATE OR DELETE ON "channel_transactions"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();
CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE ON "audit_log"
    FOR EACH ROW EXECUTE FUNCTION "refuse_ledger_change"();
-- TRUNCATE skips row triggers, so it is refused by a statement trigger.
CREATE TRIGGER "transfers_no_truncate" BEFORE TRUNCATE ON "transfers"
    FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_change"();
CREATE TRIGGER "ledger_entries_no_truncate" BEFORE TRUNCATE ON "ledger_entries"
    FOR EACH STATEMENT EXECUTE FUNCTION "refuse_ledger_change"();

-- Per UTC day: transfers, money deposited and withdrawn, settled to payees (channel settlements
-- and escrow captures), refunded to payers (channel refunds, escrow returns and refunds), and the
-- average settlement.
CREATE VIEW "payment_statistics" AS
SELECT
    ("created_at" AT TIME ZONE 'UTC')::date AS "day",
    count(*) AS "transactions",
    coalesce(sum("amount") FILTER (WHERE "kind" = 'deposit'), 0) AS "deposits",
    coalesce(sum("amount") FILTER (WHERE "kind" = 'withdrawal'), 0) AS "withdrawals",
    coalesce(sum("amount") FILTER (WHERE "kind" IN ('channel_settlement', 'escrow_capture')), 0) AS "settlements",
    count(*) FILTER (WHERE "kind" IN ('channel_settlement', 'escrow_capture')) AS "settlement_count",
    coalesce(sum("amount") FILTER (WHERE "kind" IN ('channel_refund', 'escrow_return', 'escrow_refund')), 0) AS "refunds",
    coalesce(round(avg("amount") FILTER (WHERE "kind" IN ('channel_settlement', 'escrow_capture'))), 0)::bigint AS "average_settlement"
FROM "transfers"
GROUP BY 1;
