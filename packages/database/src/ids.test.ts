import { describe, expect, it } from 'vitest';
import { uuidV7 } from './ids.js';

describe('uuid v7', () => {
  it('when made, then it is a valid version-7 RFC 9562 uuid carrying the time', () => {
    const id = uuidV7(0x0123456789ab);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.startsWith('01234567-89ab-7')).toBe(true);
  });

  it('when made at later milliseconds, then ids sort by time', () => {
    const ids = [3, 1, 2].map((offset) => uuidV7(1_700_000_000_000 + offset));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });
});
