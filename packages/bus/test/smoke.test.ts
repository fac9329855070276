import { authEndpoints } from '@zerostate/contracts';
import { expect, test } from 'vitest';

test('contracts resolve from source', () => {
  expect(authEndpoints.login.subject).toBe('svc.auth.login');
});
