import { metricTotal } from '@zerostate/testkit';
import { postJson, startSystem } from '../system.js';

const loginCount = 20;

/** One scrape, both gauges: every scrape closes the gauges' window, so they must come from the same text. */
async function scrapeDelay(url: string): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await (await fetch(url)).text();
  if (!text.includes('nodejs_eventloop_delay_p99_seconds'))
    throw new Error(`${url} has no event-loop gauges`);
  return {
    p99Ms: metricTotal(text, 'nodejs_eventloop_delay_p99_seconds') * 1000,
    maxMs: metricTotal(text, 'nodejs_eventloop_delay_max_seconds') * 1000,
  };
}

/**
 * Twenty concurrent logins (bcrypt cost 12 each) while the gateway and the auth service report
 * their event-loop delay. The gauges reset at every scrape, so scraping right before and right
 * after the burst measures exactly the burst.
 */
export async function loginEventLoop() {
  const system = await startSystem({
    BCRYPT_COST: '12',
    RATE_LIMIT_CAPACITY: '1000',
    LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
  });
  try {
    const password = 'benchmark password 1';
    const emails = Array.from(
      { length: loginCount },
      (_, index) => `login.${index}.${Date.now()}@example.com`,
    );
    for (const email of emails) await postJson(`${system.baseUrl}/api/v1/auth/register`, { email, password });
    const gauges = [
      ['gateway', `${system.baseUrl}/metrics`],
      ['auth', `${system.services.auth!.adminUrl}/metrics`],
    ] as const;
    for (const [, url] of gauges) await scrapeDelay(url);
    const started = performance.now();
    await Promise.all(
      emails.map((email) => postJson(`${system.baseUrl}/api/v1/auth/login`, { email, password })),
    );
    const elapsedMs = performance.now() - started;
    console.log(
      `\n## login-event-loop: ${loginCount} concurrent logins, bcrypt cost 12, Node ${process.version}`,
    );
    console.log(
      `all ${loginCount} logins answered in ${Math.round(elapsedMs)} ms (${(elapsedMs / loginCount).toFixed(0)} ms per login)`,
    );
    console.log('| process | event-loop delay p99 ms | max ms | target p99 |');
    console.log('|---|---|---|---|');
    const rows = [];
    for (const [name, url] of gauges) {
      const { p99Ms, maxMs } = await scrapeDelay(url);
      rows.push({ name, p99Ms, maxMs });
      console.log(
        `| ${name} | ${p99Ms.toFixed(2)} | ${maxMs.toFixed(2)} | < 20 ms ${p99Ms < 20 ? 'met' : 'MISSED'} |`,
      );
    }
    return rows;
  } finally {
    await system.stop();
  }
}
