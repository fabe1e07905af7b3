/**
 * deploy/kubernetes: every manifest is validated against the Kubernetes OpenAPI schemas offline
 * (kubernetes-models: validators generated from the API's schemas: types, required fields, enums,
 * formats; it does not reject unknown fields, so the fields that matter are checked by name below),
 * then the parts that must agree with each other and with the bridge are checked structurally:
 * probes on /healthz and /readyz at the container port, the PDB and the Service selecting the
 * Deployment's pods, the Secret and the ConfigMap mounted where the config says, the config itself
 * valid for the bridge, resources, a non-root read-only container, and a termination grace above
 * the bridge's own drain.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { loadConfigFile } from "../../src/config/load.js";
import { ROOT } from "./processes.js";

const DIR = join(ROOT, "deploy", "kubernetes");
type Obj = Record<string, any>;
const docs: { file: string; obj: Obj }[] = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((d) => ({ file, obj: d.toJS() as Obj })));
const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap as never, "v1/Secret": Secret as never, "v1/Service": Service as never,
  "apps/v1/Deployment": Deployment as never, "policy/v1/PodDisruptionBudget": PodDisruptionBudget as never,
};
const one = (kind: string): Obj => {
  const found = docs.filter((d) => d.obj.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.obj;
};

describe("deploy/kubernetes against the Kubernetes schemas", () => {
  it("has the five objects, each valid for its API version", () => {
    expect(docs.map((d) => `${d.obj.apiVersion}/${d.obj.kind}`).sort()).toEqual(Object.keys(MODELS).sort());
    for (const { file, obj } of docs) {
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`]!;
      expect(() => new Model(obj).validate(), file).not.toThrow();
    }
  });

  it("the validator is not a rubber stamp: broken shapes of the same manifests fail", () => {
    const deployment = one("Deployment");
    const broken: [string, (d: Obj) => void][] = [
      ["containerPort as a string", (d) => void (d.spec.template.spec.containers[0].ports[0].containerPort = "8080")],
      ["no selector", (d) => void delete d.spec.selector],
      ["replicas as text", (d) => void (d.spec.replicas = "three")],
      ["a container without a name", (d) => void delete d.spec.template.spec.containers[0].name],
      ["probe port of the wrong type", (d) => void (d.spec.template.spec.containers[0].readinessProbe.httpGet.port = { name: "http" })],
    ];
    for (const [name, breakIt] of broken) {
      const copy = structuredClone(deployment);
      breakIt(copy);
      expect(() => new Deployment(copy as never).validate(), name).toThrow();
    }
    const pdb = structuredClone(one("PodDisruptionBudget"));
    pdb.spec.selector = "app=fedbridge";
    expect(() => new PodDisruptionBudget(pdb as never).validate()).toThrow();
  });
});

describe("deploy/kubernetes fits together and fits the bridge", () => {
  const deployment = one("Deployment");
  const pod = deployment.spec.template.spec as Obj;
  const container = pod.containers[0] as Obj;
  const env = Object.fromEntries((container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
  const configMap = one("ConfigMap");
  const configText = configMap.data["fedbridge.yaml"] as string;
  const port = (container.ports as Obj[]).find((p) => p.name === "http")!;

  it("the container starts the production entry point, on the port its probes and the Service use", () => {
    expect(pod.containers).toHaveLength(1);
    expect(container.command).toEqual(["node", "dist/src/cluster.js"]);
    expect(env.PORT).toBe(String(port.containerPort));
    expect(env.HOST).toBe("0.0.0.0");
    expect(one("Service").spec.ports[0].targetPort).toBe("http");
  });

  it("probes: liveness and startup on /healthz, readiness on /readyz, all on the container port", () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
  });

  it("the PodDisruptionBudget and the Service select exactly the Deployment's pods", () => {
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(one("PodDisruptionBudget").spec.selector.matchLabels).toEqual(labels);
    expect(one("Service").spec.selector).toEqual(labels);
    expect(one("PodDisruptionBudget").spec.maxUnavailable).toBe(1);
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it("the ConfigMap and the Secret are mounted where the config and FEDBRIDGE_CONFIG say, read-only", () => {
    const mounts = Object.fromEntries((container.volumeMounts as Obj[]).map((m) => [m.name, m]));
    const volumes = Object.fromEntries((pod.volumes as Obj[]).map((v) => [v.name, v]));
    expect(volumes.config.configMap.name).toBe(configMap.metadata.name);
    expect(volumes.keys.secret.secretName).toBe(one("Secret").metadata.name);
    expect(mounts.config.readOnly).toBe(true);
    expect(mounts.keys.readOnly).toBe(true);
    const configDir = mounts.config.mountPath as string;
    expect(env.FEDBRIDGE_CONFIG).toBe(posix.join(configDir, "fedbridge.yaml"));
    // Paths in the config are relative to its directory: the signing key lands in the Secret's
    // mount, under a key the Secret has; the IdP metadata is a key of the ConfigMap.
    const config = loadFromText(configText).config;
    for (const k of config.signing.keys) {
      const path = posix.resolve(configDir, k.privateKeyFile!);
      expect(posix.dirname(path)).toBe(mounts.keys.mountPath);
      expect(Object.keys(one("Secret").stringData ?? one("Secret").data)).toContain(posix.basename(path));
    }
    for (const idp of config.samlIdps) {
      const path = posix.resolve(configDir, idp.metadataFile);
      expect(posix.dirname(path)).toBe(configDir);
      expect(Object.keys(configMap.data)).toContain(posix.basename(path));
    }
    // More than one worker needs the Redis replay store (cluster.ts refuses otherwise).
    expect(Number(env.FEDBRIDGE_WORKERS)).toBeGreaterThan(1);
    expect(config.replay.store).toBe("redis");
  });

  it("the grace: readiness turns the pod out before its listener closes, and the drain ends before the kill", () => {
    const config = loadFromText(configText).config;
    const probe = container.readinessProbe as { periodSeconds: number; failureThreshold: number };
    // Endpoints drop the pod after failureThreshold failed probes, periodSeconds apart.
    expect(config.server.shutdownDelayMs).toBeGreaterThanOrEqual(probe.periodSeconds * probe.failureThreshold * 1000);
    expect(config.server.shutdownGraceMs).toBeGreaterThan(config.server.shutdownDelayMs);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.server.shutdownGraceMs);
  });

  it("resources: requests and limits; workers match the CPU limit", () => {
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.requests.memory).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(Number(container.resources.limits.cpu)).toBe(Number(env.FEDBRIDGE_WORKERS));
  });

  it("security: non-root (the image's node user), read-only root filesystem, no privilege escalation, no capabilities, no service-account token", () => {
    const sc = container.securityContext as Obj;
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.capabilities.drop).toEqual(["ALL"]);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
    expect(pod.automountServiceAccountToken).toBe(false);
    // The key file: owner and group (fsGroup) read, nobody else.
    expect((pod.volumes as Obj[]).find((v) => v.secret)!.secret.defaultMode).toBe(0o440);
  });

  it("the Secret in the tree holds a placeholder, never a key", () => {
    const secret = one("Secret");
    for (const v of Object.values({ ...(secret.stringData ?? {}), ...(secret.data ?? {}) }) as string[]) {
      const text = secret.data ? Buffer.from(v, "base64").toString() : v;
      expect(text).not.toMatch(/-----BEGIN/);
      expect(text).toMatch(/REPLACE/);
    }
  });
});

/** The ConfigMap's config through the bridge's own loader (schema and cross-field rules; no file is read). */
function loadFromText(text: string): ReturnType<typeof loadConfigFile> {
  const file = join(mkdtempSync(join(tmpdir(), "fedbridge-k8s-")), "fedbridge.yaml");
  writeFileSync(file, text);
  return loadConfigFile(file);
}
