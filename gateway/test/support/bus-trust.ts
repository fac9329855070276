import { generateBusTrust } from '@zerostate/bus';

/**
 * The gateway key of this test process: in-process gateways sign with it and the stand-in
 * services verify with it, as the real services verify the real gateway's key.
 */
export const gatewayTrust = generateBusTrust();
