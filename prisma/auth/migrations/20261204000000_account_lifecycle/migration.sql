-- The account lifecycle: an admin deactivates and reactivates users; a user erases their own
-- account (GDPR). `sessions_revoked_at` is the moment before which every access token of the
-- user stops working: gateways learn it from evt.auth.user.sessions-revoked and
-- svc.auth.session-revocations (docs/ARCHITECTURE.md "Revoking access tokens").
ALTER TABLE "users"
  ADD COLUMN "deactivated_at" TIMESTAMPTZ(3),
  ADD COLUMN "erased_at" TIMESTAMPTZ(3),
  ADD COLUMN "sessions_revoked_at" TIMESTAMPTZ(3);

CREATE INDEX "users_sessions_revoked_at_idx" ON "users"("sessions_revoked_at");

-- The role agent_operator never granted anything: it is removed (docs/API.md "Roles").
UPDATE "users" SET "roles" = array_remove("roles", 'agent_operator');
UPDATE "users" SET "roles" = ARRAY['user']::TEXT[] WHERE cardinality("roles") = 0;
ALTER TABLE "users" DROP CONSTRAINT "users_roles_check";
ALTER TABLE "users" ADD CONSTRAINT "users_roles_check" CHECK ("roles" IS NOT NULL AND "roles" <@ ARRAY['user', 'admin']::TEXT[]);

-- An erased user keeps its row (the ledger names its DID) with the email replaced by
-- 'erased:<id>', which no registration can take (it is not an email address), so the real
-- address is free again.
ALTER TABLE "users" ADD CONSTRAINT "users_erased_check" CHECK (
  "erased_at" IS NULL OR ("email" = 'erased:' || "id"::text AND "name" IS NULL AND NOT "is_active")
);
