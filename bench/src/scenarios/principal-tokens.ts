import { randomUUID } from 'node:crypto';
import { encodeJson, generateBusTrust } from '@zerostate/bus';
import type { Principal } from '@zerostate/contracts';

/**
 * What a signed principal costs per request, against what the unsigned header cost in the same
 * run: the gateway signs once per forwarded call, the service verifies once. Single-threaded,
 * in-process, so it isolates the crypto and encoding from the network.
 */
export async function principalTokens(options: { iterations?: number } = {}): Promise<void> {
  const iterations = options.iterations ?? 20_000;
  const trust = generateBusTrust('payment');
  const principal: Principal = {
    kind: 'user',
    user_id: randomUUID(),
    did: `did:zerostate:user:${randomUUID()}`,
    roles: ['user'],
    is_system: false,
  };
  const body = encodeJson({ id: randomUUID(), amount: 1_000, sequence_number: 42 });
  const binding = { subject: 'svc.payment.channel.pay', requestId: randomUUID(), body };
  const token = trust.signer.sign(principal, binding);
  const timed = (work: () => unknown) => {
    for (let index = 0; index < 1_000; index += 1) work();
    const started = process.hrtime.bigint();
    for (let index = 0; index < iterations; index += 1) work();
    return Number(process.hrtime.bigint() - started) / 1_000 / iterations;
  };
  // Before this change: JSON.stringify on the gateway, JSON.parse + schema on the service.
  const unsigned = timed(() => JSON.parse(JSON.stringify(principal)));
  const sign = timed(() => trust.signer.sign(principal, binding));
  const verify = timed(() => trust.verifier.verify(token, binding));
  console.log(`## principal-tokens: ${iterations} iterations, Node ${process.version}`);
  console.log('| step | µs per request | vs unsigned header |');
  console.log('|---|---|---|');
  console.log(`| unsigned JSON header (encode + decode) | ${unsigned.toFixed(1)} | 1.00x |`);
  console.log(`| gateway: sign | ${sign.toFixed(1)} | ${(sign / unsigned).toFixed(1)}x |`);
  console.log(`| service: verify | ${verify.toFixed(1)} | ${(verify / unsigned).toFixed(1)}x |`);
}
