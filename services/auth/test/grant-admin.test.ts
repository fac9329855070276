import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { authEndpoints } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantAdmin } from '../src/grant-admin.js';
import {
  goodPassword,
  type Harness,
  principalFromAccessToken,
  startHarness,
  uniqueEmail,
} from './harness.js';

const run = promisify(execFile);
const serviceDir = fileURLToPath(new URL('..', import.meta.url));
// The email the removed BOOTSTRAP_ADMIN_EMAIL setting used to promote; a stale deployment may still set it.
const formerBootstrapEmail = 'root@example.com';
let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({
    name: 'auth_grant_admin',
    env: { BOOTSTRAP_ADMIN_EMAIL: formerBootstrapEmail },
  });
});

afterAll(async () => {
  await harness?.stop();
});

async function register(email = uniqueEmail('grant')) {
  return harness.call(authEndpoints.register, { email, password: goodPassword });
}

async function auditRowsFor(userId: string) {
  const result = await harness.db.query(
    "SELECT actor_user_id, metadata FROM audit_log WHERE action = 'roles_changed' AND target_id = $1",
    [userId],
  );
  return result.rows;
}

/** Runs the command exactly as an operator would, through the package script's node flags. */
async function runCommand(email: string) {
  return run(
    process.execPath,
    ['--conditions=@zerostate/source', '--import', 'tsx', 'src/grant-admin.ts', '--email', email],
    { cwd: serviceDir, env: { ...process.env, AUTH_DATABASE_URL: harness.config.databaseUrl } },
  ).then(
    (output) => ({ exitCode: 0, stdout: output.stdout, stderr: output.stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      exitCode: error.code ?? -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

describe('registration', () => {
  it('when any email registers, even the one a stale BOOTSTRAP_ADMIN_EMAIL names, then no account becomes admin', async () => {
    const sessions = [
      await register(formerBootstrapEmail),
      await register('admin@zerostate.local'),
      await register(),
    ];

    for (const session of sessions) {
      expect(session.user.roles).toEqual(['user']);
      expect(principalFromAccessToken(session.access_token).roles).toEqual(['user']);
    }
    const admins = await harness.db.query("SELECT id FROM users WHERE 'admin' = ANY(roles)");
    expect(admins.rows).toEqual([]);
  });
});

describe('grantAdmin', () => {
  it('when an operator grants admin to a registered user, then it holds admin, is audited once, and a second grant changes nothing', async () => {
    const email = uniqueEmail('operator');
    const session = await register(email);

    const first = await grantAdmin(harness.config.databaseUrl, `  ${email.toUpperCase()} `);
    const second = await grantAdmin(harness.config.databaseUrl, email);

    expect(first).toEqual({ user_id: session.user.id, email, roles: ['user', 'admin'], changed: true });
    expect(second).toEqual({ ...first, changed: false });
    const stored = await harness.db.query('SELECT roles FROM users WHERE id = $1', [session.user.id]);
    expect(stored.rows[0].roles).toEqual(['user', 'admin']);
    expect(await auditRowsFor(session.user.id)).toEqual([
      {
        actor_user_id: null,
        metadata: { via: 'grant-admin', previous_roles: ['user'], roles: ['user', 'admin'] },
      },
    ]);
    const login = await harness.call(authEndpoints.login, { email, password: goodPassword });
    expect(principalFromAccessToken(login.access_token).roles).toEqual(['user', 'admin']);
  });

  it('when the email belongs to no user, then NOT_FOUND naming the email and nothing is written', async () => {
    const email = uniqueEmail('nobody');
    const auditBefore = await harness.db.query('SELECT count(*)::int AS n FROM audit_log');

    await expect(grantAdmin(harness.config.databaseUrl, email)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(email),
    });

    const auditAfter = await harness.db.query('SELECT count(*)::int AS n FROM audit_log');
    expect(auditAfter.rows[0].n).toBe(auditBefore.rows[0].n);
  });
});

describe('the grant-admin command', () => {
  it('when run for a registered email, then it prints one JSON line and exits 0', async () => {
    const email = uniqueEmail('cli');
    const session = await register(email);

    const result = await runCommand(email);

    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      user_id: session.user.id,
      email,
      roles: ['user', 'admin'],
      changed: true,
    });
  });

  it('when run for an unknown email or without one, then it exits 1 and says why on stderr', async () => {
    const email = uniqueEmail('cli-nobody');

    const unknown = await runCommand(email);
    const missing = await runCommand('');

    expect(unknown).toMatchObject({ exitCode: 1, stdout: '' });
    expect(unknown.stderr).toContain(`No user is registered with the email ${email}`);
    expect(missing).toMatchObject({ exitCode: 1, stdout: '' });
    expect(missing.stderr).toContain('--email');
  });
});
