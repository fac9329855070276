import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

export interface EventLoopDelayGauge {
  /** Stops sampling (frees the 1 ms timer); later scrapes read 0. */
  stop(): void;
}

/**
 * 1 ms sampling: prom-client's default lag metric samples every 10 ms, too coarse to tell a
 * 20 ms target from a miss. The cost is one timer wake-up per millisecond.
 */
const resolutionMs = 1;
const nanosecondsPerSecond = 1e9;
const p99Name = 'nodejs_eventloop_delay_p99_seconds';
const maxName = 'nodejs_eventloop_delay_max_seconds';

const installed = new WeakMap<Registry, EventLoopDelayGauge>();

/**
 * Registers `nodejs_eventloop_delay_p99_seconds` and `nodejs_eventloop_delay_max_seconds`. Each
 * scrape reports the window since the previous scrape and starts a new one, so a benchmark can
 * scrape, run its load, and scrape again to read the delay caused by that load alone. Calling
 * it again for the same registry returns the gauges already installed.
 */
export function eventLoopDelayGauge(registry: Registry): EventLoopDelayGauge {
  const existing = installed.get(registry);
  if (existing) return existing;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const windows = new ScrapeWindows(histogram);
  new Gauge({
    name: p99Name,
    help: 'Event loop delay, 99th percentile over the window since the previous scrape (1 ms sampling).',
    registers: [registry],
    collect() {
      this.set(windows.read(p99Name).p99Seconds);
    },
  });
  new Gauge({
    name: maxName,
    help: 'Event loop delay, maximum over the window since the previous scrape (1 ms sampling).',
    registers: [registry],
    collect() {
      this.set(windows.read(maxName).maxSeconds);
    },
  });
  const handle = { stop: () => histogram.disable() };
  installed.set(registry, handle);
  return handle;
}

interface WindowSummary {
  p99Seconds: number;
  maxSeconds: number;
  /** Which gauges have already reported this window. */
  readBy: Set<string>;
}

/**
 * prom-client collects each gauge separately, so the first gauge read in a scrape closes the
 * window (summarise, then reset the histogram) and the other reads the same summary. A gauge
 * that reads the summary a second time is in the next scrape and closes a new window.
 *
 * `reset()` also forgets the histogram's previous sample time, so the first interval after a
 * reset is never recorded: a stall that starts right after a scrape would vanish. A one-shot
 * timer measures that first interval instead, and it counts towards the max, and towards the
 * p99 while the window holds fewer than 100 samples (where the p99 is the max).
 */
class ScrapeWindows {
  readonly #histogram: IntervalHistogram;
  #summary: WindowSummary | undefined;
  #openedAt = 0;
  #firstIntervalMs: number | undefined;

  constructor(histogram: IntervalHistogram) {
    this.#histogram = histogram;
    this.#open();
  }

  read(gaugeName: string): WindowSummary {
    if (this.#summary === undefined || this.#summary.readBy.has(gaugeName)) this.#summary = this.#close();
    this.#summary.readBy.add(gaugeName);
    return this.#summary;
  }

  #open(): void {
    const openedAt = performance.now();
    this.#openedAt = openedAt;
    this.#firstIntervalMs = undefined;
    setTimeout(() => {
      if (this.#openedAt === openedAt) this.#firstIntervalMs = performance.now() - openedAt;
    }, resolutionMs).unref();
  }

  #close(): WindowSummary {
    const histogram = this.#histogram;
    const firstIntervalSeconds = (this.#firstIntervalMs ?? performance.now() - this.#openedAt) / 1000;
    // An empty histogram (no tick since the reset) has max 0 and percentile 0.
    const p99Seconds = histogram.percentile(99) / nanosecondsPerSecond;
    const summary = {
      p99Seconds: histogram.count < 100 ? Math.max(p99Seconds, firstIntervalSeconds) : p99Seconds,
      maxSeconds: Math.max(histogram.max / nanosecondsPerSecond, firstIntervalSeconds),
      readBy: new Set<string>(),
    };
    histogram.reset();
    this.#open();
    return summary;
  }
}
