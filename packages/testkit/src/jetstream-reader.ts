import type { NatsConnection } from '@nats-io/nats-core';

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decodeJson = (data: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(data));

/**
 * Reads stored events with an ephemeral JetStream pull consumer through the JetStream API
 * subjects (`$JS.API.*`). Testkit does not depend on @nats-io/jetstream, and the raw API is all
 * a test needs.
 */
export async function readStreamMessages(
  nc: NatsConnection,
  options: { stream: string; subject: string; count: number; timeoutMs?: number },
): Promise<{ subject: string; messageId: string | undefined; body: unknown }[]> {
  const created = decodeJson(
    (
      await nc.request(
        `$JS.API.CONSUMER.CREATE.${options.stream}`,
        encodeJson({
          stream_name: options.stream,
          config: {
            ack_policy: 'none',
            deliver_policy: 'all',
            filter_subject: options.subject,
            inactive_threshold: 30_000_000_000,
          },
        }),
        { timeout: 2_000 },
      )
    ).data,
  ) as { name?: string; error?: { description: string } };
  if (!created.name) throw new Error(`consumer not created: ${created.error?.description}`);
  const messages: { subject: string; messageId: string | undefined; body: unknown }[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  while (messages.length < options.count && Date.now() < deadline) {
    const reply = await nc
      .request(
        `$JS.API.CONSUMER.MSG.NEXT.${options.stream}.${created.name}`,
        encodeJson({ batch: 1, expires: 1_000_000_000 }),
        // A pulled message arrives under its own subject, not the inbox, so the shared
        // request inbox could not match it to this request: use a dedicated one.
        { timeout: 2_000, noMux: true },
      )
      // An expired pull (status 408) may surface as an error: poll again until the deadline.
      .catch(() => undefined);
    if (!reply) continue;
    // A status reply (404 no messages, 408 request expired) has headers and no data: poll again.
    if (reply.data.length === 0) continue;
    messages.push({
      subject: reply.subject,
      messageId: reply.headers?.get('Nats-Msg-Id') || undefined,
      body: decodeJson(reply.data),
    });
  }
  return messages;
}
