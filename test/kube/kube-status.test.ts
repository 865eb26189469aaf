/**
 * Status and leader election against a real kube-apiserver: two meshpilot replicas (real
 * processes, `meshpilot serve --kubeconfig …` with the ServiceAccount token of deploy/) both
 * serve; exactly one holds the Lease and writes findings into the Istio objects' status; killing
 * it (SIGKILL, no release) hands the Lease over. Also: namespace discovery selectors.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/sources/kube/client.js";
import { KubeSource } from "../../src/sources/kube/kube-source.js";
import { parseSelector } from "../../src/sources/kube/selectors.js";
import { Store } from "../../src/store/store.js";
import { DEPLOY_DIR, freePort, kubeTestsSkipped, startKube, type KubeCluster, type KubeTestClient } from "../support/kube.js";
import { destinationRule, namespace, service, virtualService } from "../support/kube-mesh.js";
import { sleep, until } from "../support/wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NS = "status-ns";

interface Replica {
  readonly name: string;
  readonly debugPort: number;
  readonly proc: ChildProcess;
  output: string;
}

describe.skipIf(kubeTestsSkipped)("status writing and leader election with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let admin: KubeTestClient;
  let kubeconfig: string;
  const replicas: Replica[] = [];

  const startReplica = async (name: string): Promise<Replica> => {
    const debugPort = await freePort();
    const xdsPort = await freePort();
    const proc = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/main.ts"),
        "serve",
        "--kubeconfig",
        kubeconfig,
        "--lease-namespace",
        "meshpilot-system",
        "--lease-duration-seconds",
        "3",
        "--lease-retry-ms",
        "500",
        "--xds-address",
        `127.0.0.1:${xdsPort}`,
        "--debug-address",
        `127.0.0.1:${debugPort}`,
      ],
      { cwd: ROOT, env: { ...process.env, POD_NAME: name, KUBECONFIG: "" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const r: Replica = { name, debugPort, proc, output: "" };
    proc.stdout?.on("data", (d: Buffer) => (r.output += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (r.output += d.toString()));
    replicas.push(r);
    return r;
  };
  const ready = async (r: Replica) => {
    try {
      return (await fetch(`http://127.0.0.1:${r.debugPort}/ready`)).status === 200;
    } catch {
      return false;
    }
  };
  const leaseHolder = async () =>
    (
      (await admin.get({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "meshpilot-status-leader", namespace: "meshpilot-system" },
      })) as { spec?: { holderIdentity?: string } } | undefined
    )?.spec?.holderIdentity;
  const vsStatus = async (name: string) =>
    (
      (await admin.get({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace: NS } })) as
        { status?: Record<string, unknown> } | undefined
    )?.status;

  beforeAll(async () => {
    kube = await startKube({ name: "status" });
    admin = kube.admin;
    await kube.installCrds();
    await admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    kubeconfig = kube.kubeconfigFile(await kube.serviceAccountToken("meshpilot-system", "meshpilot"), "meshpilot");
    await admin.apply(namespace(NS));
    await admin.apply(service(NS, "reviews", 9080));
    await admin.apply(destinationRule(NS, ["v1", "v2"]));
    await startReplica("replica-a");
    await startReplica("replica-b");
    await until(async () => (await Promise.all(replicas.map(ready))).every(Boolean), "both replicas ready", 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${replicas.map((r) => `--- ${r.name}\n${r.output.slice(-3000)}`).join("\n")}`);
    });
  }, 1_800_000);

  afterAll(async () => {
    for (const r of replicas) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        const exited = new Promise((res) => r.proc.once("exit", res));
        r.proc.kill("SIGTERM");
        await Promise.race([exited, sleep(5000)]);
        r.proc.kill("SIGKILL");
      }
    }
    await kube?.stop();
  });

  it("two replicas both serve; exactly one holds the Lease", async () => {
    await until(async () => (await leaseHolder()) !== undefined, "a Lease holder");
    await sleep(2000); // several renew periods: the holder must not flap
    const holder = await leaseHolder();
    expect(["replica-a", "replica-b"]).toContain(holder);
    const leaders = replicas.filter((r) => r.output.includes("became the status leader"));
    expect(leaders.map((r) => r.name)).toEqual([holder]);
    for (const r of replicas) expect(await ready(r)).toBe(true);
  });

  it("an invalid VirtualService shows its error in status; an analyzer finding too; fixing it clears the status", async () => {
    const bad = virtualService(NS, "v2", "v1", "networking.istio.io/v1") as { spec: { http: Array<{ route: Array<Record<string, unknown>> }> } } & ReturnType<
      typeof virtualService
    >;
    bad.metadata = { ...bad.metadata, name: "bad" };
    bad.spec.http[1]!.route = [
      { destination: { host: "reviews", subset: "v1" }, weight: -5 },
      { destination: { host: "reviews", subset: "v2" }, weight: 10 },
    ];
    await admin.apply(bad); // our CRD schema accepts it; meshpilot's validation does not
    await until(async () => ((await vsStatus("bad"))?.["validationMessages"] as unknown[] | undefined)?.length === 1, "the error in status");
    const st = (await vsStatus("bad")) as {
      conditions: Array<Record<string, string>>;
      validationMessages: Array<{ type: { code: string }; level: string; documentationUrl?: string }>;
      observedGeneration: number;
    };
    expect(st.validationMessages[0]).toMatchObject({ type: { code: "IST0106", name: "SchemaValidationError" }, level: "ERROR" });
    expect(st.validationMessages[0]!.documentationUrl).toMatch(/ist0106\/$/);
    expect(st.conditions[0]).toMatchObject({ type: "PassedAnalysis", status: "False", reason: "ErrorsFound" });
    expect(st.conditions[0]!["message"]).toContain("spec.http[1].route[0].weight");
    expect(st.conditions[0]!["message"]).toContain("weight -5 < 0");
    expect(st.observedGeneration).toBe(1);

    // A valid VirtualService that routes to a subset no DestinationRule defines: an analyzer finding.
    const missing = virtualService(NS, "v9", "v1", "networking.istio.io/v1");
    missing.metadata = { ...missing.metadata, name: "missing-subset" };
    await admin.apply(missing);
    await until(async () => JSON.stringify((await vsStatus("missing-subset"))?.["validationMessages"] ?? []).includes("IST0101"), "IST0101 in status");
    expect(JSON.stringify((await vsStatus("missing-subset"))?.["conditions"])).toContain("v9");

    // Fix the routes: the findings leave the status. (Both at once would be two VirtualServices
    // for one host, itself a finding, IST0109; so the second one goes.)
    await admin.apply({ ...virtualService(NS, "v2", "v1"), metadata: { name: "missing-subset", namespace: NS } });
    await until(async () => (await vsStatus("missing-subset"))?.["validationMessages"] === undefined, "missing-subset's status cleared");
    await admin.delete({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "missing-subset", namespace: NS } });
    await admin.apply({ ...virtualService(NS, "v2", "v1", "networking.istio.io/v1beta1"), metadata: { name: "bad", namespace: NS } });
    await until(
      async () => (await vsStatus("bad"))?.["validationMessages"] === undefined && (await vsStatus("bad"))?.["conditions"] === undefined,
      "bad's status cleared",
    );
  });

  it("killing the leader hands the Lease over; the new leader writes status", async () => {
    const holder = (await leaseHolder())!;
    const leader = replicas.find((r) => r.name === holder)!;
    const other = replicas.find((r) => r.name !== holder)!;
    leader.proc.kill("SIGKILL"); // no release: the successor must wait the lease out
    await until(async () => (await leaseHolder()) === other.name, "the other replica to take the Lease", 20_000);
    // its log arrives through a pipe, possibly after the Lease write is visible in the API
    await until(() => other.output.includes("became the status leader"), "the new leader to log that it leads", 10_000);
    const bad = { ...virtualService(NS, "v2", "v1"), metadata: { name: "bad2", namespace: NS } } as {
      spec: { http: Array<{ route: Array<Record<string, unknown>> }> };
    } & ReturnType<typeof virtualService>;
    bad.spec.http[0]!.route = [{ destination: { host: "reviews", subset: "v2" }, weight: -1 }];
    await admin.apply(bad);
    await until(async () => JSON.stringify((await vsStatus("bad2"))?.["validationMessages"] ?? []).includes("IST0106"), "the new leader to write status");
    expect(await ready(other)).toBe(true);
  });

  it("discovery selectors: only namespaces whose labels match are in scope, and relabelling moves them in and out", async () => {
    await admin.apply(namespace("sel-in", { mesh: "on" }));
    await admin.apply(namespace("sel-out", {}));
    for (const ns of ["sel-in", "sel-out"]) await admin.apply(service(ns, "svc", 80));
    const store = new Store();
    const source = new KubeSource({
      client: new KubeClient(kube.kubeConfig(await kube.serviceAccountToken("meshpilot-system", "meshpilot"), "meshpilot")),
      logger: pino({ level: "silent" }),
      discoverySelectors: [parseSelector("mesh=on"), parseSelector("team in (blue)")],
      onUpdate: (u) => void store.apply(u.source, u.events),
    });
    source.start();
    try {
      await source.synced;
      const services = () => [...store.snapshot().of("Service").keys()].filter((k) => k.includes("/sel-")).sort();
      expect(services()).toEqual(["Service/sel-in/svc"]);
      expect(store.snapshot().get("Namespace//sel-out")).toBeUndefined();
      await admin.apply(namespace("sel-out", { team: "blue" }));
      await until(() => services().length === 2, "sel-out to come into scope");
      await admin.apply(namespace("sel-in", { mesh: "off" }));
      await until(() => JSON.stringify(services()) === JSON.stringify(["Service/sel-out/svc"]), "sel-in to leave scope");
    } finally {
      await source.stop();
    }
  });

  it("--watch-namespaces: only the named namespaces are watched", async () => {
    const store = new Store();
    const source = new KubeSource({
      client: new KubeClient(kube.kubeConfig(await kube.serviceAccountToken("meshpilot-system", "meshpilot"), "meshpilot")),
      logger: pino({ level: "silent" }),
      watchNamespaces: ["sel-out"],
      onUpdate: (u) => void store.apply(u.source, u.events),
    });
    source.start();
    try {
      await source.synced;
      expect([...store.snapshot().of("Service").keys()]).toEqual(["Service/sel-out/svc"]);
      expect([...store.snapshot().of("Namespace").keys()]).toEqual(["Namespace//sel-out"]);
      expect(Object.keys(source.stats())).toContain("/api/v1/namespaces/sel-out/services");
      await admin.apply(service("sel-out", "svc2", 81));
      await admin.apply(service("sel-in", "svc2", 81));
      await until(() => store.snapshot().of("Service").size === 2, "svc2 in sel-out");
      await sleep(300);
      expect([...store.snapshot().of("Service").keys()].sort()).toEqual(["Service/sel-out/svc", "Service/sel-out/svc2"]);
    } finally {
      await source.stop();
    }
  });
});
