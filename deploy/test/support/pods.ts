import type { IContainer, IPodSpec, IProbe } from 'kubernetes-models/v1';
import type { KubernetesObject } from './kubernetes.js';

/** The pod spec of a Deployment or Job, or undefined for kinds that run no pods. */
export function podSpecOf(object: KubernetesObject): IPodSpec | undefined {
  if (object.kind !== 'Deployment' && object.kind !== 'Job') return undefined;
  const template = object.spec?.template as { spec?: IPodSpec } | undefined;
  return template?.spec;
}

function probeProblems(
  container: IContainer,
  kind: 'liveness' | 'readiness',
  expectedPath: string,
): string[] {
  const probe: IProbe | undefined = kind === 'liveness' ? container.livenessProbe : container.readinessProbe;
  if (!probe?.httpGet) return [`${container.name}: no ${kind} probe`];
  const problems: string[] = [];
  if (probe.httpGet.path !== expectedPath)
    problems.push(`${container.name}: ${kind} probe is not ${expectedPath}`);
  const port = probe.httpGet.port;
  const named = (container.ports ?? []).some((entry) => entry.name === port || entry.containerPort === port);
  if (!named) problems.push(`${container.name}: ${kind} probe port ${String(port)} is not a container port`);
  return problems;
}

function containerProblems(container: IContainer, needsProbes: boolean): string[] {
  const problems: string[] = [];
  const context = container.securityContext;
  if (context?.runAsNonRoot !== true) problems.push(`${container.name}: runAsNonRoot is not true`);
  if (context?.allowPrivilegeEscalation !== false)
    problems.push(`${container.name}: privilege escalation allowed`);
  if (context?.readOnlyRootFilesystem !== true)
    problems.push(`${container.name}: root filesystem is writable`);
  if (!context?.capabilities?.drop?.includes('ALL'))
    problems.push(`${container.name}: capabilities not dropped`);
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  if (!limits.cpu || !limits.memory) problems.push(`${container.name}: no cpu and memory limits`);
  if (!requests.cpu || !requests.memory) problems.push(`${container.name}: no cpu and memory requests`);
  if (container.image?.endsWith(':latest') || !container.image?.includes(':')) {
    problems.push(`${container.name}: image has no pinned tag`);
  }
  if (needsProbes) {
    problems.push(
      ...probeProblems(container, 'liveness', '/health'),
      ...probeProblems(container, 'readiness', '/ready'),
    );
  }
  return problems;
}

/**
 * Everything that makes a workload unfit for the restricted namespace: root, writable root
 * filesystem, capabilities, no seccomp profile, a mounted API token, no limits, and (for
 * long-running Deployments) missing /health and /ready probes.
 */
export function podProblems(object: KubernetesObject): string[] {
  const spec = podSpecOf(object);
  if (!spec) return [];
  const problems: string[] = [];
  const pod = spec.securityContext;
  if (pod?.runAsNonRoot !== true) problems.push('pod: runAsNonRoot is not true');
  if (pod?.runAsUser !== 1000 || pod?.runAsGroup !== 1000) problems.push('pod: not running as 1000:1000');
  if (pod?.seccompProfile?.type !== 'RuntimeDefault')
    problems.push('pod: seccomp profile is not RuntimeDefault');
  if (spec.automountServiceAccountToken !== false) problems.push('pod: service account token is mounted');
  const needsProbes = object.kind === 'Deployment';
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
    problems.push(...containerProblems(container, needsProbes));
  }
  return problems.map((problem) => `${object.kind}/${object.metadata.name} ${problem}`);
}

/** True when every key/value of `selector` appears in `labels`. */
export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}
