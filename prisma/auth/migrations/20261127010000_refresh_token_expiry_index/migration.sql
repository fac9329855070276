-- Housekeeping deletes refresh tokens by expiry; without this index each run scans the table.
-- CreateIndex
CREATE INDEX "refresh_tokens_expires_at_idx" ON "refresh_tokens"("expires_at");
