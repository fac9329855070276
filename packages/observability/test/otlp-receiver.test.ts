import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../../testkit/src/otlp-receiver.js';

const traceIdHex = '5b8efff798038103d269b633813fc60c';
const spanIdHex = 'eee19b7ec3c1b174';

function exportBody(ids: { traceId: string; spanId: string; parentSpanId?: string }) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'receiver-test' } }] },
        scopeSpans: [
          {
            spans: [
              {
                ...ids,
                name: 'GET /thing',
                kind: 2,
                attributes: [
                  { key: 'http.response.status_code', value: { intValue: '200' } },
                  { key: 'retried', value: { boolValue: false } },
                  {
                    key: 'tags',
                    value: { arrayValue: { values: [{ stringValue: 'a' }, { doubleValue: 1.5 }] } },
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

async function post(
  receiver: OtlpReceiver,
  body: Buffer,
  headers: Record<string, string>,
  path = '/v1/traces',
) {
  return fetch(`${receiver.endpoint}${path}`, { method: 'POST', body, headers });
}

describe('startOtlpReceiver', () => {
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });

  afterEach(async () => {
    await receiver.close();
  });

  it('when an exporter posts gzipped OTLP JSON, then the span is decoded with its service and attributes', async () => {
    const body = gzipSync(JSON.stringify(exportBody({ traceId: traceIdHex, spanId: spanIdHex })));

    const response = await post(receiver, body, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({});
    expect(receiver.spans()).toEqual([
      {
        traceId: traceIdHex,
        spanId: spanIdHex,
        parentSpanId: undefined,
        name: 'GET /thing',
        kind: 'server',
        serviceName: 'receiver-test',
        attributes: { 'http.response.status_code': 200, retried: false, tags: ['a', 1.5] },
      },
    ]);
  });

  it('when started with keepSpans false, then it counts the spans it decodes and keeps none', async () => {
    const counting = await startOtlpReceiver({ keepSpans: false });
    try {
      const body = Buffer.from(JSON.stringify(exportBody({ traceId: traceIdHex, spanId: spanIdHex })));
      for (let sent = 0; sent < 3; sent += 1) {
        const response = await post(counting, body, { 'content-type': 'application/json' });
        expect(response.status).toBe(200);
      }
      const broken = await post(counting, Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]'), {
        'content-type': 'application/json',
      });
      expect(broken.status).toBe(400);
      expect(counting.count()).toBe(3);
      expect(counting.spans()).toEqual([]);
    } finally {
      await counting.close();
    }
  });

  it('when ids arrive base64-encoded, then they are stored as hex', async () => {
    const ids = {
      traceId: Buffer.from(traceIdHex, 'hex').toString('base64'),
      spanId: Buffer.from(spanIdHex, 'hex').toString('base64'),
      parentSpanId: Buffer.from('0102030405060708', 'hex').toString('base64'),
    };

    await post(receiver, Buffer.from(JSON.stringify(exportBody(ids))), {
      'content-type': 'application/json',
    });

    expect(receiver.spans()[0]).toMatchObject({
      traceId: traceIdHex,
      spanId: spanIdHex,
      parentSpanId: '0102030405060708',
    });
  });

  it('when protobuf or another path is posted, then it is refused and nothing is stored', async () => {
    const protobuf = await post(receiver, Buffer.from([1, 2]), { 'content-type': 'application/x-protobuf' });
    const metrics = await post(
      receiver,
      Buffer.from('{}'),
      { 'content-type': 'application/json' },
      '/v1/metrics',
    );

    expect(protobuf.status).toBe(415);
    expect(metrics.status).toBe(404);
    expect(receiver.spans()).toEqual([]);
  });

  it('when the awaited spans never come, then waitForSpans rejects naming what did arrive', async () => {
    await post(
      receiver,
      Buffer.from(JSON.stringify(exportBody({ traceId: traceIdHex, spanId: spanIdHex }))),
      {
        'content-type': 'application/json',
      },
    );

    await expect(receiver.waitForSpans((spans) => spans.length > 1, 50)).rejects.toThrow(
      /receiver-test:GET \/thing/,
    );
  });

  it('when spans arrive after waitForSpans started, then it resolves with them', async () => {
    const waiting = receiver.waitForSpans((spans) => spans.some((span) => span.name === 'GET /thing'));

    await post(
      receiver,
      Buffer.from(JSON.stringify(exportBody({ traceId: traceIdHex, spanId: spanIdHex }))),
      {
        'content-type': 'application/json',
      },
    );

    expect((await waiting).map((span) => span.name)).toEqual(['GET /thing']);
  });
});
