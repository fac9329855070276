import { type Channel, type Principal, paymentEndpoints } from '@zerostate/contracts';
import { credits, type Harness, scalar, userPrincipal } from './harness.js';

/** What the channel test files share: funded payers, open channels, payments and row reads. */
export function channelHelpers(harness: () => Harness) {
  /** A payer with `balance` who opened a channel of `deposit` to a fresh payee. */
  const openedChannel = async (options: { balance?: number; deposit?: number } = {}) => {
    const payer = await harness().funded(options.balance ?? credits(10));
    const payee = userPrincipal();
    const channel = await harness().call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: options.deposit ?? credits(4) },
      payer,
    );
    return { payer, payee, channel };
  };
  return {
    funded: (amount: number) => harness().funded(amount),
    openedChannel,
    pay: (channel: Channel, payer: Principal, amount: number, sequenceNumber: number) =>
      harness().call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount, sequence_number: sequenceNumber },
        payer,
      ),
    transfersOf: (channelId: string) => harness().transfersOf(channelId),
    channelTransactions: async (channelId: string) =>
      Number(
        await scalar(harness().db, 'SELECT count(*) FROM channel_transactions WHERE channel_id = $1', [
          channelId,
        ]),
      ),
    expireNow: (channelId: string) =>
      harness().db.query(
        `UPDATE payment_channels SET expires_at = now() - interval '1 minute' WHERE id = $1`,
        [channelId],
      ),
  };
}
