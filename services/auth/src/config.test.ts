import { randomBytes } from 'node:crypto';
import { loadConfig } from '@zerostate/config';
import { describe, expect, test } from 'vitest';
import { authConfigSchema, developmentEncryptionKey } from './config.js';

const productionKey = randomBytes(32).toString('base64');

describe('when the auth service reads its configuration', () => {
  test('then a missing encryption key stops it, naming the variable', () => {
    expect(() => loadConfig(authConfigSchema, {})).toThrow(/AUTH_KEY_ENCRYPTION_KEY/);
  });

  test('then a key that is not 32 bytes is refused', () => {
    expect(() =>
      loadConfig(authConfigSchema, { AUTH_KEY_ENCRYPTION_KEY: randomBytes(16).toString('base64') }),
    ).toThrow(/32 bytes/);
  });

  test('then the development key works in development and is refused in production', () => {
    expect(
      loadConfig(authConfigSchema, { AUTH_KEY_ENCRYPTION_KEY: developmentEncryptionKey })
        .AUTH_KEY_ENCRYPTION_KEY,
    ).toHaveLength(32);
    expect(() =>
      loadConfig(authConfigSchema, {
        NODE_ENV: 'production',
        AUTH_KEY_ENCRYPTION_KEY: developmentEncryptionKey,
      }),
    ).toThrow(/development key/);
  });

  test('then production refuses a bcrypt cost below 12 and accepts 12', () => {
    expect(() =>
      loadConfig(authConfigSchema, {
        NODE_ENV: 'production',
        AUTH_KEY_ENCRYPTION_KEY: productionKey,
        BCRYPT_COST: '10',
      }),
    ).toThrow(/BCRYPT_COST/);
    expect(
      loadConfig(authConfigSchema, { NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_KEY: productionKey })
        .BCRYPT_COST,
    ).toBe(12);
  });
});
