-- An account is closed when its owner erases their user account (auth calls
-- svc.payment.account.close). Only an empty account closes; a closed one takes no money again
-- (the balance UPDATE refuses it), so nothing can be paid to an owner nobody can sign in as.
ALTER TABLE "accounts" ADD COLUMN "closed_at" TIMESTAMPTZ(3);
