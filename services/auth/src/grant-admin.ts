import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Role } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { grantAdminRole } from './db/users.js';
import { normalizeEmail } from './domain/password-rule.js';
import { PrismaClient } from './generated/prisma/client.js';

/** What grant-admin reports, also printed as the command's one line of JSON. */
export interface GrantAdminResult {
  user_id: string;
  email: string;
  roles: Role[];
  /** False when the user already was an admin (nothing was written). */
  changed: boolean;
}

/**
 * Makes an existing user an admin, straight in the auth database. This is how the first admin
 * comes to be: it needs database credentials, never a network request, so signing up with some
 * email can never earn the role. Throws NOT_FOUND when no user has the email.
 */
export async function grantAdmin(connectionString: string, email: string): Promise<GrantAdminResult> {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) });
  try {
    const outcome = await grantAdminRole(prisma, {
      email: normalizeEmail(email),
      origin: { requestId: `grant-admin:${randomUUID()}`, ip: null, userAgent: 'grant-admin' },
    });
    if (outcome === 'not_found') {
      throw new AppError(
        'NOT_FOUND',
        `No user is registered with the email ${email.trim()}; register the account first, then run grant-admin again.`,
      );
    }
    const { user, changed } = outcome;
    return { user_id: user.id, email: user.email, roles: user.roles, changed };
  } finally {
    await prisma.$disconnect();
  }
}

const usage = 'usage: grant-admin --email <email>   (reads AUTH_DATABASE_URL)';
const defaultDatabaseUrl = 'postgresql://postgres@127.0.0.1:5432/zerostate_auth';

function emailFromArguments(argv: string[]): string {
  let email: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { email: { type: 'string' } }, strict: true });
    email = values.email?.trim();
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; ${usage}`);
  }
  if (!email) throw new Error(`--email is required; ${usage}`);
  return email;
}

/**
 * `pnpm --filter @zerostate/auth-service grant-admin --email <email>` or, after a build,
 * `node services/auth/dist/grant-admin.js --email <email>`: prints one JSON line and exits 0, or
 * explains on stderr and exits 1.
 */
async function main(): Promise<void> {
  try {
    const email = emailFromArguments(process.argv.slice(2));
    const result = await grantAdmin(process.env.AUTH_DATABASE_URL ?? defaultDatabaseUrl, email);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    process.stderr.write(`grant-admin: ${error instanceof Error ? error.message : String(error)}\n`);
    // exitCode instead of exit(): lets the database pool close and stderr flush first.
    process.exitCode = 1;
  }
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) await main();
