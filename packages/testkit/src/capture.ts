import { Writable } from 'node:stream';
import type { Registry } from '@zerostate/observability';

/**
 * A stream to hand to a logger (pino's `destination`) that keeps what was written: `lines` as
 * written and `entries` parsed as JSON, both live arrays that grow as lines arrive.
 */
export function captureLines<Entry = Record<string, unknown>>(): {
  destination: Writable;
  lines: string[];
  entries: Entry[];
} {
  const lines: string[] = [];
  const entries: Entry[] = [];
  let partial = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      const parts = (partial + String(chunk)).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts.filter((part) => part.trim().length > 0)) {
        lines.push(line);
        entries.push(JSON.parse(line) as Entry);
      }
      done();
    },
  });
  return { destination, lines, entries };
}

/** The value of one metric in Prometheus text output, summed over its label sets. */
export function metricTotal(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (match && match[1] === name) total += Number(match[3]);
  }
  return total;
}

/** The value of one metric's sample whose labels include `labels` (0 when it has none yet). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((value) =>
    Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  );
  return sample?.value ?? 0;
}

/**
 * Every `endpoint code ×count` a service counted in `nats_handler_undeclared_errors_total`: codes
 * its handlers answered that their contracts do not declare. A test harness checks it is empty
 * when it stops, so an undeclared code fails the file even where no test asserted the code.
 */
export async function undeclaredErrorsIn(registry: Registry): Promise<string[]> {
  const metric = registry.getSingleMetric('nats_handler_undeclared_errors_total');
  const values = (await metric?.get())?.values ?? [];
  return values
    .filter((value) => value.value > 0)
    .map((value) => `${value.labels.endpoint} ${value.labels.code} ×${value.value}`);
}
