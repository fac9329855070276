import { listServices } from '@zerostate/config';
import { repositoryRoot } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../src/config.js';
import { gatewayTrust } from './support/bus-trust.js';

describe('the gateway readiness list', () => {
  it('when READY_SERVICES is not set in a checkout, then /ready pings every service under services/ by its NATS name', () => {
    const expected = listServices(repositoryRoot).map((service) => service.bus);
    expect(expected).toEqual(['auction', 'auth', 'payment', 'reputation', 'task']);
    expect(loadGatewayConfig({ BUS_SIGNING_KEYS: gatewayTrust.signingKeys }).READY_SERVICES).toEqual(
      expected,
    );
  });

  it('when a deployment sets it, then that list is used as given', () => {
    expect(
      loadGatewayConfig({ BUS_SIGNING_KEYS: gatewayTrust.signingKeys, READY_SERVICES: 'auth' })
        .READY_SERVICES,
    ).toEqual(['auth']);
  });

  it('when it is set to nothing, then the configuration is refused naming it', () => {
    expect(() =>
      loadGatewayConfig({ BUS_SIGNING_KEYS: gatewayTrust.signingKeys, READY_SERVICES: ' , ' }),
    ).toThrow(/READY_SERVICES/);
  });
});
