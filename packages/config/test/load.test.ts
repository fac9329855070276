import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfig, booleanFromEnv, commaList, databasePoolConfig, loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  const schema = z.object({ ...baseConfig, ...databasePoolConfig, FLAG: booleanFromEnv.default(false) });

  it('when the environment is empty, then every default applies and the result is frozen', () => {
    const config = loadConfig(schema, {});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      NATS_URL: 'nats://127.0.0.1:4222',
      DB_POOL_MAX: 100,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('when several values are wrong, then every name is listed and no value is echoed', () => {
    let message = '';
    try {
      loadConfig(schema, { NODE_ENV: 'staging-secret', DB_POOL_MAX: 'lots', FLAG: 'maybe' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/NODE_ENV/);
    expect(message).toMatch(/DB_POOL_MAX/);
    expect(message).toMatch(/FLAG/);
    expect(message).not.toContain('staging-secret');
  });

  it('when a list or a boolean is given as text, then it is parsed', () => {
    expect(commaList.parse(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
    expect(booleanFromEnv.parse('1')).toBe(true);
    expect(booleanFromEnv.parse('false')).toBe(false);
  });
});
