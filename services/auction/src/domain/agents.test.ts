import { describe, expect, it } from 'vitest';
import { agentDid, base58btc, ed25519DidKey, matchScore } from './agents.js';

describe('agent DIDs', () => {
  it('when base58btc encodes known bytes, then it matches the reference alphabet and keeps leading zeros', () => {
    expect(base58btc(Uint8Array.from([0, 0, 1]))).toBe('112');
    expect(base58btc(new TextEncoder().encode('hello world'))).toBe('StV1DL6CwTryKyV');
  });

  it('when a key is the all-zero Ed25519 key, then its did:key has the 0xed01 prefix (z6Mk…)', () => {
    const did = ed25519DidKey(new Uint8Array(32));
    expect(did.startsWith('did:key:z6Mk')).toBe(true);
    expect(did).toMatch(/^did:key:z[1-9A-HJ-NP-Za-km-z]{44,48}$/);
  });

  it('when no key is given, then the DID names the agent id', () => {
    expect(agentDid({ id: 'abc' })).toBe('did:zerostate:agent:abc');
    expect(() => ed25519DidKey(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});

describe('the match score', () => {
  const base = {
    reputationHundredths: 5_000,
    qualityHundredths: 5_000,
    maxCapacity: 10,
    currentLoad: 0,
    regionRequested: false,
  };

  it('when everything is neutral and the agent idle, then 0.30·0.5 + 0.25·0.5 + 0.20 + 0.15·0.5 = 0.55', () => {
    expect(matchScore(base)).toBe(5_500);
  });

  it('when load rises or reputation falls, then the score falls; a requested region adds 0.10', () => {
    expect(matchScore({ ...base, currentLoad: 5 })).toBe(4_500);
    expect(matchScore({ ...base, reputationHundredths: 4_000 })).toBe(5_200);
    expect(matchScore({ ...base, regionRequested: true })).toBe(6_500);
  });
});
