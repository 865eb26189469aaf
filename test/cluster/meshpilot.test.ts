/**
 * meshpilot in a real cluster, installed as a user installs it (deploy/crds.yaml and
 * deploy/meshpilot.yaml, the image the only change; test/cluster/global-setup.ts applies them):
 * two replicas that become Ready only once their informers synced, one status writer elected
 * through the Lease, in-cluster config with the ServiceAccount's RBAC, and the manifest's
 * probes, PodDisruptionBudget, non-root user and read-only root filesystem in force.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DEPLOY_DIR, MANIFEST_IMAGE, substituteImages } from "../../scripts/cluster/meshpilot.mjs";
import { loadManifests } from "../support/kube.js";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";

const NS = "meshpilot-system";

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}
interface Pod {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string };
  spec: { containers: { name: string; image: string; imagePullPolicy: string; args?: string[] }[] };
  status: { phase: string; conditions?: Condition[]; containerStatuses?: { ready: boolean; restartCount: number; started?: boolean }[] };
}

const isReady = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

describe.skipIf(clusterTestsSkipped)("meshpilot deployed in a local cluster", () => {
  let c: TestCluster;
  const pods = async () =>
    (await c.json<{ items: Pod[] }>(["-n", NS, "get", "pods", "-l", "app=meshpilot"])).items.filter((p) => !p.metadata.deletionTimestamp);
  const readyPods = async () => (await pods()).filter(isReady);
  const twoReady = () => eventually("two Ready meshpilot replicas", async () => ((await readyPods()).length === 2 ? readyPods() : undefined), 120_000);

  beforeAll(async () => {
    c = await useCluster();
    await twoReady();
  });

  it("runs deploy/meshpilot.yaml as written, but for the image", async () => {
    const manifest = loadManifests(readFileSync(`${DEPLOY_DIR}meshpilot.yaml`, "utf8"));
    const written = manifest.find((o) => o.kind === "Deployment") as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    const dep = await c.json<{ spec: { replicas: number; template: { spec: { containers: Pod["spec"]["containers"] } } } }>([
      "-n",
      NS,
      "get",
      "deployment",
      "meshpilot",
    ]);
    expect(dep.spec.replicas).toBe(2);
    const [container] = dep.spec.template.spec.containers;
    expect(container?.image).toBe(c.images.byName["meshpilot"]);
    expect(container?.imagePullPolicy).toBe("Never");
    expect(container?.args).toEqual(written.spec.template.spec.containers[0]?.args);
    // The substitution touches nothing else: the manifest with the image put back is the original.
    const original = readFileSync(`${DEPLOY_DIR}meshpilot.yaml`, "utf8");
    const substituted = substituteImages(original, { [MANIFEST_IMAGE]: "localhost/meshpilot:x" });
    expect(
      substituted
        .split("\n")
        .filter((l, i) => l !== original.split("\n")[i])
        .map((l) => l.trim()),
    ).toEqual(["image: localhost/meshpilot:x", "imagePullPolicy: Never"]);
  });

  it("talks to the apiserver with the in-cluster config and the ServiceAccount's RBAC", async () => {
    const [pod] = await readyPods();
    const logs = await c.kubectl(["-n", NS, "logs", pod!.metadata.name]);
    const starting = logs.split("\n").find((l) => l.includes("starting Kubernetes informers"));
    expect(starting, logs.slice(0, 2000)).toBeDefined();
    // kubernetes.default's ClusterIP, found through the environment the kubelet gives every pod
    expect(JSON.parse(starting!).server).toBe(`https://${c.cfg.apiServiceIP}:443`);
    const can = async (verb: string, resource: string, ...more: string[]) =>
      (
        await c
          .kubectl(["auth", "can-i", verb, resource, ...more, `--as=system:serviceaccount:${NS}:meshpilot`])
          .catch((e: Error & { stdout?: string }) => e.stdout ?? "")
      ).trim();
    expect(await can("watch", "endpointslices.discovery.k8s.io")).toBe("yes");
    expect(await can("patch", "virtualservices.networking.istio.io", "--subresource=status")).toBe("yes");
    expect(await can("create", "pods")).toBe("no");
    expect(await can("update", "virtualservices.networking.istio.io")).toBe("no");
  });

  it("becomes Ready only after its informers synced", async () => {
    // Take away one collection the informers list: a new replica must stay unready, however
    // healthy the process; give it back and the replica comes up.
    const role = await c.json<Record<string, unknown> & { rules: { resources: string[] }[] }>(["get", "clusterrole", "meshpilot"]);
    const crippled = {
      ...role,
      rules: role.rules.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== "endpointslices") })).filter((r) => r.resources.length > 0),
    };
    const file = c.cfg.path("manifests", "meshpilot-crippled-role.json");
    writeFileSync(file, JSON.stringify(crippled));
    const [victim] = await readyPods();
    try {
      await c.kubectl(["replace", "-f", file]);
      await c.kubectl(["-n", NS, "delete", "pod", victim!.metadata.name, "--wait=false"]);
      const fresh = await eventually("a replacement replica running", async () => {
        const p = (await pods()).find((x) => x.metadata.name !== victim!.metadata.name && !isReady(x) && x.status.containerStatuses?.[0]?.started);
        return p;
      });
      // Running, probed every 3 s, and still not Ready 12 s later: /ready says the informers have not synced.
      await new Promise((r) => setTimeout(r, 12_000));
      const still = (await pods()).find((p) => p.metadata.name === fresh.metadata.name);
      expect(still && isReady(still)).toBe(false);
      const logs = await c.kubectl(["-n", NS, "logs", fresh.metadata.name]);
      expect(logs).not.toContain("Kubernetes informers synced");
      expect(logs).toMatch(/endpointslices/);
    } finally {
      await c.kubectl(["apply", "-f", c.cfg.path("manifests", "meshpilot.yaml")]);
    }
    const pair = await twoReady();
    for (const p of pair) {
      const logs = await c.kubectl(["-n", NS, "logs", p.metadata.name]);
      const synced = logs.split("\n").find((l) => l.includes("Kubernetes informers synced"));
      expect(synced, `${p.metadata.name} logs`).toBeDefined();
      const syncedAt = JSON.parse(synced!).time as number;
      const readyAt = Date.parse(p.status.conditions!.find((x) => x.type === "Ready")!.lastTransitionTime!);
      // lastTransitionTime has whole seconds
      expect(readyAt + 1000).toBeGreaterThanOrEqual(syncedAt);
    }
  });

  it("elects one status writer through the Lease, and it writes status", async () => {
    const pair = await twoReady();
    const holder = await eventually("a Lease holder", async () => {
      const lease = await c.json<{ spec: { holderIdentity?: string } }>(["-n", NS, "get", "lease", "meshpilot-status-leader"]);
      return pair.some((p) => p.metadata.name === lease.spec.holderIdentity) ? lease.spec.holderIdentity : undefined;
    });
    expect(pair.map((p) => p.metadata.name)).toContain(holder);
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: status-probe, namespace: default}
spec:
  hosts: [kubernetes]
  http:
    - route:
        - destination: {host: kubernetes, subset: missing}
`;
    const file = c.cfg.path("manifests", "status-probe.yaml");
    writeFileSync(file, vs);
    await c.kubectl(["apply", "-f", file]);
    try {
      const status = await eventually("the VirtualService's status", async () => {
        const o = await c.json<{ status?: { validationMessages?: { type?: { code?: string } }[] } }>([
          "-n",
          "default",
          "get",
          "virtualservice",
          "status-probe",
        ]);
        return o.status?.validationMessages?.length ? o.status : undefined;
      });
      expect(status.validationMessages?.map((m) => m.type?.code)).toContain("IST0101");
    } finally {
      await c.kubectl(["delete", "-f", file, "--wait=false"]);
    }
  });

  it("holds to the manifest's security settings and PodDisruptionBudget", async () => {
    const [pod] = await readyPods();
    const name = pod!.metadata.name;
    const sh = (cmd: string) => c.exec(NS, name, "meshpilot", ["sh", "-c", cmd]);
    expect((await sh("id -u")).trim()).toBe("65532");
    expect(await sh("touch /app/x 2>&1; echo rc=$?")).toMatch(/Read-only file system[\s\S]*rc=1/);
    const status = await sh("cat /proc/1/status");
    expect(status).toMatch(/CapEff:\s+0000000000000000/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    expect(status).toMatch(/Seccomp:\s+2/);

    const pdb = await eventually("the PDB's status", async () => {
      const o = await c.json<{ status?: { currentHealthy?: number; disruptionsAllowed?: number } }>(["-n", NS, "get", "pdb", "meshpilot"]);
      return o.status?.currentHealthy === 2 ? o.status : undefined;
    });
    expect(pdb.disruptionsAllowed).toBe(1);
    // Evicting both replicas at once: the first goes, the second is refused while the first is gone.
    const pair = await readyPods();
    const evict = (pod: string) =>
      c.admin.request("POST", `/api/v1/namespaces/${NS}/pods/${pod}/eviction`, {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name: pod, namespace: NS },
      });
    const first = await evict(pair[0]!.metadata.name);
    expect(first.status).toBe(201);
    const second = await evict(pair[1]!.metadata.name);
    expect(second.status).toBe(429);
    await twoReady();
  });
});
