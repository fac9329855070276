import { listServices, type ServiceDescription } from '@zerostate/config';
import type { IContainer, IEnvVar } from 'kubernetes-models/v1';
import { readText, repositoryRoot } from './files.js';
import type { KubernetesObject } from './kubernetes.js';
import { podSpecOf, selects } from './pods.js';

/**
 * What the manifests of one NATS service (not the gateway) must agree on: its description, read
 * from its package.json like every other tool reads it. Kubernetes objects are named `name`
 * (Deployment, Service, HPA, PDB, ServiceAccount; `<name>-migrate` Job), the image ships
 * `folder`, and READY_SERVICES pings `$SRV.PING.<bus>`.
 */
export type ServiceDeployment = ServiceDescription;

/** Every service under services/: each must be deployed, or the deploy tests fail naming it. */
export const serviceDeployments: ServiceDeployment[] = listServices(repositoryRoot);

type Labels = Record<string, string>;

/** The users deploy/nats/permissions.conf defines. */
export function natsUsers(): string[] {
  return [...readText('deploy/nats/permissions.conf').matchAll(/^\s*user: ([a-z-]+)$/gm)].map(
    (match) => match[1]!,
  );
}

const podLabelsOf = (object: KubernetesObject): Labels | undefined =>
  (object.spec?.template as { metadata?: { labels?: Labels } } | undefined)?.metadata?.labels;

const matchLabelsOf = (object: KubernetesObject, field: string): Labels | undefined =>
  (object.spec?.[field] as { matchLabels?: Labels } | undefined)?.matchLabels;

function find(objects: KubernetesObject[], kind: string, name: string): KubernetesObject | undefined {
  return objects.find((object) => object.kind === kind && object.metadata.name === name);
}

function policyFor(objects: KubernetesObject[], podLabels: Labels | undefined) {
  return objects.find(
    (object) => object.kind === 'NetworkPolicy' && selects(matchLabelsOf(object, 'podSelector'), podLabels),
  );
}

/** `name=secret/key` for every variable a container reads from a Secret. */
function secretReferences(container: IContainer): string[] {
  return (container.env ?? []).map((variable: IEnvVar) => {
    const reference = variable.valueFrom?.secretKeyRef;
    return `${variable.name}=${reference?.name ?? '?'}/${reference?.key ?? '?'}`;
  });
}

function ingressPorts(policy: KubernetesObject | undefined): unknown[] {
  const rules = (policy?.spec?.ingress ?? []) as { ports?: { port: unknown }[] }[];
  return rules.flatMap((rule) => (rule.ports ?? []).map((entry) => entry.port));
}

function egressPorts(policy: KubernetesObject | undefined): unknown[] {
  const rules = (policy?.spec?.egress ?? []) as { ports?: { port: unknown }[] }[];
  return rules.flatMap((rule) => (rule.ports ?? []).map((entry) => entry.port));
}

function serverProblems(
  objects: KubernetesObject[],
  configMaps: Map<string, Record<string, string>>,
  service: ServiceDeployment,
  deployment: KubernetesObject,
): string[] {
  const problems: string[] = [];
  const container = podSpecOf(deployment)!.containers[0]!;
  const podLabels = podLabelsOf(deployment);
  const template = deployment.spec?.template as { metadata?: { annotations?: Labels } };
  const port = service.adminPort;
  if (deployment.metadata.labels?.['app.kubernetes.io/component'] !== 'server')
    problems.push('Deployment is not labelled component=server (rollout.sh applies it last)');
  if (!container.command?.at(-1)?.endsWith(`${service.folder}/dist/main.js`))
    problems.push(`Deployment does not run ${service.folder}/dist/main.js`);
  const admin = (container.ports ?? []).find((entry) => entry.name === 'admin');
  if (admin?.containerPort !== port) problems.push(`container port "admin" is not ${port}`);
  if (template.metadata?.annotations?.['prometheus.io/port'] !== String(port))
    problems.push(`prometheus.io/port is not ${port}`);
  const configName = `${service.name}-config`;
  if (!(container.envFrom ?? []).some((source) => source.configMapRef?.name === configName))
    problems.push(`Deployment does not read ConfigMap ${configName}`);
  if (configMaps.get(configName)?.[service.adminPortVariable] !== String(port))
    problems.push(`${configName} does not set ${service.adminPortVariable}=${port}`);
  const secret = `${service.databaseVariable}=${service.name}-secrets/${service.databaseVariable}`;
  if (!secretReferences(container).includes(secret)) problems.push(`Deployment does not read ${secret}`);
  // Without the key of its link from the gateway the service refuses every signed principal.
  const trust = `BUS_TRUSTED_KEYS=${service.name}-secrets/BUS_TRUSTED_KEYS`;
  if (!secretReferences(container).includes(trust)) problems.push(`Deployment does not read ${trust}`);
  // It logs in to NATS as the user deploy/nats/permissions.conf grants its subjects to.
  const natsPassword = `NATS_PASSWORD=${service.name}-secrets/NATS_PASSWORD`;
  if (!secretReferences(container).includes(natsPassword))
    problems.push(`Deployment does not read ${natsPassword}`);
  if (configMaps.get(configName)?.NATS_USER !== service.bus)
    problems.push(`${configName} does not set NATS_USER=${service.bus}`);
  if (!natsUsers().includes(service.bus))
    problems.push(`deploy/nats/permissions.conf has no user ${service.bus}`);
  const services = objects.filter(
    (object) => object.kind === 'Service' && selects(object.spec?.selector as Labels, podLabels),
  );
  const servicePorts = services.flatMap((object) => (object.spec?.ports ?? []) as { port: number }[]);
  if (services.length !== 1 || servicePorts.length !== 1 || servicePorts[0]!.port !== port)
    problems.push(`its Service must expose the admin port ${port} and nothing else`);
  const ingress = ingressPorts(policyFor(objects, podLabels));
  if (ingress.length !== 1 || ingress[0] !== port)
    problems.push(`its NetworkPolicy must admit the admin port ${port} only`);
  return problems;
}

function migrationProblems(
  objects: KubernetesObject[],
  service: ServiceDeployment,
  deployment: KubernetesObject,
): string[] {
  const job = find(objects, 'Job', `${service.name}-migrate`);
  if (!job) return [`no Job ${service.name}-migrate`];
  const problems: string[] = [];
  const container = podSpecOf(job)!.containers[0]!;
  const podLabels = podLabelsOf(job);
  if (job.metadata.labels?.['app.kubernetes.io/component'] !== 'migration')
    problems.push('Job is not labelled component=migration (rollout.sh waits on that label)');
  if (podLabels?.['app.kubernetes.io/component'] !== 'migration')
    problems.push('Job pods are not labelled component=migration (rollout.sh reads their logs)');
  if (container.image !== podSpecOf(deployment)!.containers[0]!.image)
    problems.push('Job image differs from the Deployment image');
  if (!container.command?.at(-1)?.endsWith(`${service.folder}/dist/migrate.js`))
    problems.push(`Job does not run ${service.folder}/dist/migrate.js`);
  // The migration needs the database and nothing else: no other secret reaches it.
  const expected = [`${service.databaseVariable}=${service.name}-secrets/${service.databaseVariable}`];
  if (JSON.stringify(secretReferences(container)) !== JSON.stringify(expected))
    problems.push(`Job secrets are not exactly ${expected[0]}`);
  const policy = policyFor(objects, podLabels);
  if (!policy || policy === policyFor(objects, podLabelsOf(deployment)))
    problems.push('Job has no NetworkPolicy of its own');
  if (((policy?.spec?.ingress ?? []) as unknown[]).length > 0)
    problems.push('Job NetworkPolicy admits ingress');
  if (JSON.stringify(egressPorts(policy)) !== JSON.stringify([5432]))
    problems.push('Job NetworkPolicy egress is not Postgres (5432) only');
  return problems;
}

/**
 * Everything that makes one service's manifests disagree with each other or with its config:
 * the admin port in the container, the scrape annotation, the ConfigMap, the Service and the
 * NetworkPolicy; the database Secret; and the migration Job (same image, its own migrate.js,
 * only the database secret, Postgres egress only, the labels rollout.sh relies on).
 */
export function serviceDeploymentProblems(
  objects: KubernetesObject[],
  configMaps: Map<string, Record<string, string>>,
  service: ServiceDeployment,
): string[] {
  const deployment = find(objects, 'Deployment', service.name);
  if (!deployment) return [`${service.name}: no Deployment`];
  return [
    ...serverProblems(objects, configMaps, service, deployment),
    ...migrationProblems(objects, service, deployment),
  ].map((problem) => `${service.name}: ${problem}`);
}
