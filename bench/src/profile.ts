import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// "Where the time goes": V8 CPU profiles (`--cpu-prof`) of the stack's processes, summed as self
// time per package. `BENCH_PROFILE=<dir> pnpm bench users-me` writes them (see docs/BENCHMARKS.md).

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package a frame belongs to: a dependency, a workspace package, Node itself or V8. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return '(native / V8 builtins)';
  }
  const dependency = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return dependency[1]!;
  if (url.startsWith('node:')) {
    const internal = url.replace(/^node:(internal\/)?/, '').split('/')[0]!;
    return `node:${internal}`;
  }
  const workspace = url.match(/\/(gateway|packages\/[^/]+|services\/[^/]+)\/(?:dist|src)\//);
  if (workspace) return `@zerostate/${workspace[1]!.replace(/^(packages|services)\//, '')} (own code)`;
  return url;
}

/** Which process wrote a profile, from the code it ran most. */
function processOf(profile: CpuProfile): string {
  const counts = new Map<string, number>();
  for (const node of profile.nodes) {
    const found = node.callFrame.url.match(/\/(gateway|services\/[^/]+)\/dist\/main\.js/);
    if (found) counts.set(found[1]!, (counts.get(found[1]!) ?? 0) + 1);
  }
  const [name] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['unknown'];
  return name.replace(/^services\//, '');
}

export interface ProfileSummary {
  process: string;
  busyMs: number;
  rows: { name: string; ms: number; share: number }[];
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const node = byId.get(id)!;
    const name = packageOf(node.callFrame.url, node.callFrame.functionName);
    selfUs.set(name, (selfUs.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  selfUs.delete('(idle)');
  const busyUs = [...selfUs.values()].reduce((sum, value) => sum + value, 0);
  const rows = [...selfUs.entries()]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }))
    .sort((a, b) => b.ms - a.ms);
  return { process: processOf(profile), busyMs: busyUs / 1000, rows };
}

/** Every profile in `dir` that belongs to the gateway or a service, largest first. */
export function summarizeProfiles(dir: string): ProfileSummary[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.cpuprofile'))
    .map((file) => summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile))
    .filter((summary) => summary.process !== 'unknown')
    .sort((a, b) => b.busyMs - a.busyMs);
}

/** A markdown table per process: self time by package, the top `limit` rows and the rest. */
export function printProfiles(summaries: ProfileSummary[], requests: number, limit = 12): void {
  for (const summary of summaries) {
    console.log(
      `\n${summary.process}: ${summary.busyMs.toFixed(0)} ms busy over the profiled run${requests > 0 ? `, ${(summary.busyMs / requests).toFixed(3)} ms per request (profiler on)` : ''}`,
    );
    console.log('| package (self time) | ms | share of busy time |');
    console.log('|---|---|---|');
    const top = summary.rows.slice(0, limit);
    const rest = summary.rows.slice(limit).reduce((sum, row) => sum + row.ms, 0);
    for (const row of top)
      console.log(`| ${row.name} | ${row.ms.toFixed(0)} | ${(row.share * 100).toFixed(1)}% |`);
    if (rest > 0) {
      console.log(
        `| everything else | ${rest.toFixed(0)} | ${((rest / summary.busyMs) * 100).toFixed(1)}% |`,
      );
    }
  }
}
