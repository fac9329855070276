import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDatabase } from '../src/index.js';
import { type PostgresProxy, startPostgresProxy } from './postgres-proxy.js';
import { queryOnce, type ScratchDatabase, scratchDatabase } from './support.js';

/** The name of a scratch database, which is the last path segment of its URL. */
function nameOf(database: ScratchDatabase): string {
  return new URL(database.url).pathname.slice(1);
}

describe('ensureDatabase on a server that refuses the maintenance database', () => {
  let proxy: PostgresProxy;
  let database: ScratchDatabase;

  beforeEach(async () => {
    proxy = await startPostgresProxy({ refused: ['postgres'] });
    database = await scratchDatabase('ensure_managed');
  });

  afterEach(async () => {
    await proxy.close();
    await database.drop();
  });

  it('when the target database exists, then it connects only to the target and succeeds', async () => {
    await ensureDatabase(proxy.url(nameOf(database)));

    expect(proxy.databasesRequested).toEqual([nameOf(database)]);
  });

  it('when the target database is missing and the maintenance database is refused, then the refusal is raised', async () => {
    await database.drop();

    await expect(ensureDatabase(proxy.url(nameOf(database)))).rejects.toMatchObject({ code: '42501' });
    expect(proxy.databasesRequested).toEqual([nameOf(database), 'postgres']);
  });
});

describe('ensureDatabase on a server that allows the maintenance database', () => {
  let proxy: PostgresProxy;
  let database: ScratchDatabase;

  beforeEach(async () => {
    proxy = await startPostgresProxy({ refused: [] });
    database = await scratchDatabase('ensure_create');
    await database.drop();
  });

  afterEach(async () => {
    await proxy.close();
    await database.drop();
  });

  it('when the target database does not exist, then it tries the target first and creates it through postgres', async () => {
    await ensureDatabase(proxy.url(nameOf(database)));

    expect(proxy.databasesRequested).toEqual([nameOf(database), 'postgres']);
    expect(await queryOnce<{ one: number }>(database.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
