import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deployRoot,
  isYamlFile,
  kubernetesRoot,
  listFiles,
  parseYamlDocuments,
  repositoryRoot,
} from './support/files.js';
import {
  collectGeneratedConfigMaps,
  collectResources,
  type KubernetesObject,
  missingKustomizationPaths,
  readKustomization,
  validateKubernetesObject,
} from './support/kubernetes.js';
import { podProblems, podSpecOf, selects } from './support/pods.js';
import { serviceDeploymentProblems, serviceDeployments } from './support/services.js';

const baseDirectory = path.join(kubernetesRoot, 'base');
const overlayNames = ['production', 'development'];
const overlayDirectory = (name: string) => path.join(kubernetesRoot, 'overlays', name);
const baseObjects = collectResources(baseDirectory).map((entry) => entry.object);
const objectsOfKind = (kind: string) => baseObjects.filter((object) => object.kind === kind);

function validationError(object: KubernetesObject): string | undefined {
  try {
    validateKubernetesObject(object);
    return undefined;
  } catch (error) {
    return `${object.kind}/${object.metadata.name}: ${(error as Error).message}`;
  }
}

/** A minimal, valid Deployment the negative cases break one field at a time. */
function validDeployment(): KubernetesObject {
  return structuredClone(objectsOfKind('Deployment')[0]!);
}

describe('kubernetes manifests', () => {
  it('when every YAML file in deploy/ and the compose file is parsed, then none has a syntax error', () => {
    const files = [...listFiles(deployRoot, isYamlFile), path.join(repositoryRoot, 'docker-compose.yml')];
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) expect(() => parseYamlDocuments(file), file).not.toThrow();
  });

  it('when each kustomization is read, then every resource, component and patch path exists', () => {
    const kustomizations = listFiles(kubernetesRoot, (name) => name === 'kustomization.yaml');
    expect(kustomizations.length).toBeGreaterThanOrEqual(5);
    for (const file of kustomizations) {
      expect(missingKustomizationPaths(path.dirname(file)), file).toEqual([]);
      // Deprecated fields that kustomize 5 only warns about are kept out.
      expect(readKustomization(path.dirname(file)).patchesStrategicMerge, file).toBeUndefined();
    }
  });

  it('when the base objects are validated against the Kubernetes schemas, then every one passes', () => {
    const kinds = new Set(baseObjects.map((object) => object.kind));
    for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']) {
      expect(kinds).toContain(kind);
    }
    for (const kind of ['NetworkPolicy', 'Job', 'ServiceAccount', 'Namespace']) expect(kinds).toContain(kind);
    expect(baseObjects.map(validationError).filter(Boolean)).toEqual([]);
  });

  it('when a Deployment lacks its selector or has a text replica count, then the validator rejects it', () => {
    expect(validationError(validDeployment())).toBeUndefined();
    const withoutSelector = validDeployment();
    delete withoutSelector.spec!.selector;
    expect(validationError(withoutSelector)).toMatch(/selector/);
    const textReplicas = validDeployment();
    textReplicas.spec!.replicas = 'three';
    expect(validationError(textReplicas)).toMatch(/replicas must be integer/);
  });

  it('when the workloads are inspected, then every container is non-root, read-only, limited and probed', () => {
    const workloads = baseObjects.filter((object) => podSpecOf(object));
    expect(workloads.map((object) => object.metadata.name).sort()).toEqual(
      [
        'gateway',
        ...serviceDeployments.flatMap((service) => [service.name, `${service.name}-migrate`]),
      ].sort(),
    );
    expect(workloads.flatMap(podProblems)).toEqual([]);
  });

  it('when a container runs as root without limits or probes, then the workload check reports it', () => {
    const broken = validDeployment();
    const container = podSpecOf(broken)!.containers[0]!;
    container.securityContext = { runAsNonRoot: false };
    delete container.resources;
    delete container.readinessProbe;
    const problems = podProblems(broken).join('\n');
    expect(problems).toMatch(/runAsNonRoot is not true/);
    expect(problems).toMatch(/no cpu and memory limits/);
    expect(problems).toMatch(/no readiness probe/);
  });

  it('when each service is read, then its admin port, secret and migration Job agree with its config', () => {
    const generated = collectGeneratedConfigMaps(baseDirectory);
    const serverNames = objectsOfKind('Deployment')
      .map((deployment) => deployment.metadata.name)
      .filter((name) => name !== 'gateway');
    expect(serviceDeployments.map((service) => service.name).sort()).toEqual(serverNames.sort());
    for (const service of serviceDeployments) {
      expect(serviceDeploymentProblems(baseObjects, generated, service)).toEqual([]);
      expect(existsSync(path.join(repositoryRoot, service.folder, 'src/migrate.ts')), service.name).toBe(
        true,
      );
    }
  });

  it('when a service port, migration image or migration secrets drift, then the check reports it', () => {
    const generated = collectGeneratedConfigMaps(baseDirectory);
    const payment = serviceDeployments.find((service) => service.name === 'payment-channel')!;
    const broken = structuredClone(baseObjects);
    const named = (kind: string, name: string) =>
      broken.find((object) => object.kind === kind && object.metadata.name === name)!;
    (named('Service', 'payment-channel').spec!.ports as { port: number }[])[0]!.port = 9101;
    const job = podSpecOf(named('Job', 'payment-channel-migrate'))!.containers[0]!;
    job.image = 'zerostate/auth:0.0.0';
    job.env!.push({
      name: 'AUTH_KEY_ENCRYPTION_KEY',
      valueFrom: { secretKeyRef: { name: 'auth-secrets', key: 'AUTH_KEY_ENCRYPTION_KEY' } },
    });
    const problems = serviceDeploymentProblems(broken, generated, payment).join('\n');
    expect(problems).toMatch(/Service must expose the admin port 9102/);
    expect(problems).toMatch(/Job image differs/);
    expect(problems).toMatch(/Job secrets are not exactly PAYMENT_DATABASE_URL/);
    generated.set('payment-channel-config', { PAYMENT_ADMIN_PORT: '9101' });
    expect(serviceDeploymentProblems(baseObjects, generated, payment).join('\n')).toMatch(
      /does not set PAYMENT_ADMIN_PORT=9102/,
    );
  });

  it('when the gateway readiness list is read, then it names every deployed service by its NATS name', () => {
    const ready = collectGeneratedConfigMaps(baseDirectory).get('gateway-config')!.READY_SERVICES!.split(',');
    expect(ready.sort()).toEqual(serviceDeployments.map((service) => service.bus).sort());
  });

  it('when a Deployment is inspected, then a Service, HPA, PDB and NetworkPolicy cover its pods', () => {
    for (const deployment of objectsOfKind('Deployment')) {
      const name = deployment.metadata.name;
      const podLabels = (deployment.spec!.template as { metadata: { labels: Record<string, string> } })
        .metadata.labels;
      const selectorOf = (object: KubernetesObject, field: string) =>
        (object.spec?.[field] as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
      const scaleTarget = (object: KubernetesObject) =>
        (object.spec?.scaleTargetRef as { name?: string } | undefined)?.name;
      expect(selects(selectorOf(deployment, 'selector'), podLabels), name).toBe(true);
      // The HPA owns the replica count; a fixed one would be reset by every `kubectl apply`.
      expect(deployment.spec?.replicas, `${name} replicas`).toBeUndefined();
      const services = objectsOfKind('Service').filter((service) =>
        selects(service.spec?.selector as Record<string, string>, podLabels),
      );
      expect(services, `${name} service`).toHaveLength(1);
      expect(
        objectsOfKind('HorizontalPodAutoscaler').filter((hpa) => scaleTarget(hpa) === name),
      ).toHaveLength(1);
      const budgets = objectsOfKind('PodDisruptionBudget').filter((pdb) =>
        selects(selectorOf(pdb, 'selector'), podLabels),
      );
      expect(budgets.map((pdb) => pdb.spec?.minAvailable)).toEqual([1]);
      const policies = objectsOfKind('NetworkPolicy').filter((policy) =>
        selects(selectorOf(policy, 'podSelector'), podLabels),
      );
      expect(policies, `${name} network policy`).toHaveLength(1);
    }
  });

  it('when the namespace policies are read, then everything is denied unless allowed and DNS is allowed', () => {
    const namespaceWide = objectsOfKind('NetworkPolicy').filter(
      (policy) => Object.keys(policy.spec?.podSelector as object).length === 0,
    );
    const denyAll = namespaceWide.find(
      (policy) => policy.spec?.ingress === undefined && policy.spec?.egress === undefined,
    );
    expect(denyAll?.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    const dnsPorts = namespaceWide.flatMap((policy) =>
      ((policy.spec?.egress ?? []) as { ports: { port: number }[] }[]).flatMap((rule) =>
        rule.ports.map((p) => p.port),
      ),
    );
    expect(dnsPorts).toContain(53);
    const namespace = objectsOfKind('Namespace')[0]!;
    expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('when configuration is referenced, then every ConfigMap is generated and no secret value is committed', () => {
    const generated = collectGeneratedConfigMaps(baseDirectory);
    const kubernetesFiles = listFiles(kubernetesRoot, isYamlFile);
    const allObjects = kubernetesFiles.flatMap((file) => parseYamlDocuments(file) as KubernetesObject[]);
    expect(allObjects.filter((object) => object.kind === 'Secret')).toEqual([]);
    for (const file of kubernetesFiles.filter((name) => name.endsWith('kustomization.yaml'))) {
      expect(readKustomization(path.dirname(file)).secretGenerator, file).toBeUndefined();
    }
    for (const workload of baseObjects.filter((object) => podSpecOf(object))) {
      for (const container of podSpecOf(workload)!.containers) {
        for (const source of container.envFrom ?? []) {
          expect(generated.has(source.configMapRef?.name ?? ''), `${workload.metadata.name}`).toBe(true);
        }
        const secretKeys = (container.env ?? []).map((variable) => variable.valueFrom?.secretKeyRef?.key);
        expect(secretKeys.every(Boolean), 'every env var from a secret, values stay out of git').toBe(true);
      }
    }
    const gatewayKeys = podSpecOf(
      objectsOfKind('Deployment').find((d) => d.metadata.name === 'gateway')!,
    )!.containers[0]!.env!.map((variable) => variable.name);
    expect(gatewayKeys).toContain('REDIS_URL');
  });

  it('when the overlays are read, then each patch names a base object and each merged ConfigMap exists', () => {
    const baseIdentities = new Set(baseObjects.map((object) => `${object.kind}/${object.metadata.name}`));
    const generated = collectGeneratedConfigMaps(baseDirectory);
    for (const overlay of overlayNames) {
      const kustomization = readKustomization(overlayDirectory(overlay));
      expect(kustomization.resources).toEqual(['../../base']);
      for (const patch of kustomization.patches ?? []) {
        const documents = parseYamlDocuments(
          path.join(overlayDirectory(overlay), patch.path!),
        ) as KubernetesObject[];
        for (const document of documents) {
          const identity = `${document.kind}/${document.metadata.name}`;
          expect(document.spec?.replicas, `${overlay}: ${identity} replicas`).toBeUndefined();
          if (patch.target)
            expect(baseObjects.some((object) => object.kind === patch.target!.kind)).toBe(true);
          else expect(baseIdentities, `${overlay}: ${identity}`).toContain(identity);
        }
      }
      for (const generator of kustomization.configMapGenerator ?? []) {
        expect(generator.behavior, generator.name).toBe('merge');
        expect(generated.has(generator.name), generator.name).toBe(true);
      }
    }
  });

  it('when the overlays are read, then each pins every image and production spreads every Deployment', () => {
    const images = new Set(
      baseObjects.flatMap(
        (object) => podSpecOf(object)?.containers.map((container) => container.image!.split(':')[0]!) ?? [],
      ),
    );
    expect(images.size).toBeGreaterThanOrEqual(3);
    for (const overlay of overlayNames) {
      const pinned = (readKustomization(overlayDirectory(overlay)).images ?? []).map((image) => image.name);
      expect(pinned.sort(), overlay).toEqual([...images].sort());
    }
    const patchesOf = (overlay: string) =>
      (readKustomization(overlayDirectory(overlay)).patches ?? []).flatMap(
        (patch) =>
          parseYamlDocuments(path.join(overlayDirectory(overlay), patch.path!)) as KubernetesObject[],
      );
    const patched = (overlay: string, kind: string, name: string) =>
      patchesOf(overlay).filter((object) => object.kind === kind && object.metadata.name === name);
    for (const deployment of objectsOfKind('Deployment')) {
      const name = deployment.metadata.name;
      const spread = patched('production', 'Deployment', name).map((patch) => JSON.stringify(patch));
      expect(spread.join(), `production ${name}`).toMatch(/"whenUnsatisfiable":"DoNotSchedule"/);
      const productionScale = patched('production', 'HorizontalPodAutoscaler', name)[0]?.spec;
      expect(productionScale?.minReplicas, `production ${name}`).toBeGreaterThanOrEqual(3);
      const developmentScale = patched('development', 'HorizontalPodAutoscaler', name)[0]?.spec;
      expect(developmentScale?.minReplicas, `development ${name}`).toBe(1);
    }
  });

  it('when production and development are compared, then only production refuses plain HTTP', () => {
    const settings = (overlay: string) => collectGeneratedConfigMaps(overlayDirectory(overlay));
    const production = settings('production').get('gateway-config')!;
    expect(production.TLS_ONLY).toBe('true');
    expect(production.TLS_CERT_FILE).toMatch(/^\/etc\/zerostate\/tls\//);
    expect(settings('production').get('zerostate-common')!.NODE_ENV).toBe('production');
    expect(settings('development').get('gateway-config')!.TLS_ONLY).toBe('false');
    const productionPatch = readFileSync(
      path.join(overlayDirectory('production'), 'gateway-deployment.yaml'),
      'utf8',
    );
    expect(productionPatch.match(/scheme: HTTPS/g)).toHaveLength(3);
  });
});
