import { generateBusTrust } from '@zerostate/bus';

const auth = generateBusTrust('auth');
const payment = generateBusTrust('payment');

/**
 * The gateway's links of this test process: in-process gateways sign with them and the
 * stand-in services verify with their own, as the real services verify the real gateway's.
 */
export const gatewayTrust = { signingKeys: `${auth.signingKeys},${payment.signingKeys}`, auth, payment };
