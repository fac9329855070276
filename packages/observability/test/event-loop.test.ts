import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { eventLoopDelayGauge } from '../src/event-loop.js';
import { Registry } from '../src/metrics.js';

function blockEventLoop(milliseconds: number): void {
  const end = performance.now() + milliseconds;
  while (performance.now() < end) {
    // Busy wait on purpose: this is the stall the gauge has to see.
  }
}

async function scrape(registry: Registry): Promise<{ p99: number; max: number }> {
  const text = await registry.metrics();
  const gaugeValue = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return {
    p99: gaugeValue('nodejs_eventloop_delay_p99_seconds'),
    max: gaugeValue('nodejs_eventloop_delay_max_seconds'),
  };
}

describe('eventLoopDelayGauge', () => {
  it('when the loop is blocked for 50 ms, then the next scrape shows it and a scrape after idling does not', async () => {
    const registry = new Registry();
    const gauge = eventLoopDelayGauge(registry);
    await delay(20);
    await scrape(registry);
    await delay(10);

    blockEventLoop(50);
    await delay(5);
    const blocked = await scrape(registry);
    // The quietest of three idle windows: one may catch a GC or scheduler pause on a busy machine,
    // but a gauge that never reset would show the 50 ms stall in all of them.
    const idleWindows = [];
    for (let window = 0; window < 3; window += 1) {
      await delay(100);
      idleWindows.push(await scrape(registry));
    }
    const idle = {
      p99: Math.min(...idleWindows.map((window) => window.p99)),
      max: Math.min(...idleWindows.map((window) => window.max)),
    };
    gauge.stop();

    expect(blocked.p99).toBeGreaterThanOrEqual(0.04);
    expect(blocked.max).toBeGreaterThanOrEqual(0.04);
    expect(idle.p99).toBeLessThan(blocked.p99 / 4);
    expect(idle.max).toBeLessThan(blocked.max / 4);
  });

  it('when the loop blocks right after a scrape, then the stall still shows in the next scrape', async () => {
    const registry = new Registry();
    const gauge = eventLoopDelayGauge(registry);
    await delay(20);

    await scrape(registry);
    blockEventLoop(50);
    await delay(5);
    const blocked = await scrape(registry);
    gauge.stop();

    expect(blocked.p99).toBeGreaterThanOrEqual(0.04);
    expect(blocked.max).toBeGreaterThanOrEqual(0.04);
  });

  it('when both gauges are read in one scrape, then they describe the same window', async () => {
    const registry = new Registry();
    const gauge = eventLoopDelayGauge(registry);
    await delay(20);
    await scrape(registry);

    blockEventLoop(30);
    await delay(5);
    const window = await scrape(registry);
    gauge.stop();

    expect(window.max).toBeGreaterThanOrEqual(0.025);
    expect(window.p99).toBeGreaterThan(0);
    expect(window.p99).toBeLessThanOrEqual(window.max);
  });

  it('when installed twice on one registry, then the second call reuses the first gauges', () => {
    const registry = new Registry();

    const first = eventLoopDelayGauge(registry);
    const second = eventLoopDelayGauge(registry);
    first.stop();

    expect(second).toBe(first);
    expect(registry.getSingleMetric('nodejs_eventloop_delay_p99_seconds')).toBeDefined();
  });
});
