/**
 * The reviews canary walkthrough (deploy/local/demo.yaml, the local cluster's version of
 * deploy/kind/) for real: stock Envoy sidecars in real pods get their config from the two
 * meshpilot replicas through the meshpilot Service; requests come from a client container in
 * the productpage pod. Shares are measured over hundreds of requests and checked against
 * binomial tolerances; every wait is bounded.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_MANIFEST } from "../../scripts/cluster/demo.mjs";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";

const NS = "demo";
const V1 = "outbound|9080|v1|reviews.demo.svc.cluster.local";

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; state: { running?: object; terminated?: object } }[];
  };
}
interface Tally {
  total: number;
  failures: number;
  versions: Record<string, number>;
  pods: Record<string, number>;
}

describe.skipIf(clusterTestsSkipped)("the reviews canary in a local cluster", () => {
  let c: TestCluster;
  let productpage: string;

  /** `n` requests for reviews through the sidecar, from the client container (sequential, bounded by `timeout`). */
  const sample = async (n: number, headers: string[] = []): Promise<Tally> => {
    const h = ["Host: reviews", ...headers].map((x) => `--header '${x}'`).join(" ");
    const out = await c.exec(
      NS,
      productpage,
      "client",
      ["timeout", "150", "sh", "-c", `for i in $(seq ${n}); do wget -qO- ${h} http://127.0.0.1:9080/ || echo FAILED; echo; done`],
      {
        timeoutMs: 180_000,
      },
    );
    const t: Tally = { total: 0, failures: 0, versions: {}, pods: {} };
    for (const line of out.split("\n")) {
      if (!line.trim()) continue;
      t.total++;
      try {
        const a = JSON.parse(line) as { version: string; pod?: string; hostname: string };
        t.versions[a.version] = (t.versions[a.version] ?? 0) + 1;
        const pod = a.pod || a.hostname;
        t.pods[pod] = (t.pods[pod] ?? 0) + 1;
      } catch {
        t.failures++;
      }
    }
    return t;
  };
  const share = (t: Tally, v: string) => (t.versions[v] ?? 0) / t.total;
  const admin = async (path: string) => c.exec(NS, productpage, "client", ["wget", "-qO-", `http://127.0.0.1:15000${path}`]);
  /** Addresses of one Envoy cluster's hosts, from the admin /clusters page. */
  const envoyHosts = async (cluster: string) =>
    new Set(
      (await admin("/clusters"))
        .split("\n")
        .filter((l) => l.startsWith(`${cluster}::`) && l.includes("::cx_active::"))
        .map((l) => l.split("::")[1]!.split(":")[0]!),
    );
  const pods = async (selector: string) => (await c.json<{ items: Pod[] }>(["-n", NS, "get", "pods", "-l", selector])).items;
  const apply = async (name: string, yaml: string) => {
    const file = c.cfg.path("manifests", `${name}.yaml`);
    writeFileSync(file, yaml);
    await c.kubectl(["apply", "-f", file]);
  };

  beforeAll(async () => {
    c = await useCluster();
    await c.kubectl(["apply", "-f", DEMO_MANIFEST]);
    for (const d of ["reviews-v1", "reviews-v2", "productpage-v1"])
      await c.kubectl(["-n", NS, "rollout", "status", `deployment/${d}`, "--timeout=180s"], { timeoutMs: 200_000 });
    productpage = (await pods("app=productpage")).find((p) => !p.metadata.deletionTimestamp)!.metadata.name;
    // The sidecar has its routes once a request gets through.
    await eventually("the sidecar routes reviews", async () => (await sample(3)).failures === 0, 90_000, 1000);
  });

  it("finds Services and the external host by name through CoreDNS", async () => {
    const svc = await c.json<{ spec: { clusterIP: string } }>(["-n", NS, "get", "service", "reviews"]);
    const lookup = await c.exec(NS, productpage, "client", ["nslookup", `reviews.${NS}.svc.${c.cfg.clusterDomain}`]);
    expect(lookup).toContain(svc.spec.clusterIP);
    // A machine outside the cluster, in a namespace of its own, named by CoreDNS's hosts plugin.
    const external = await c.exec(NS, productpage, "client", ["wget", "-qO-", `http://${c.cfg.externalHost}/`]);
    expect(external.trim()).toBe(`external host of cluster ${c.cfg.name}`);
    // And the user's way in from the host: the built kubectl, the printed kubeconfig, the relay on 127.0.0.1.
    const server = readFileSync(c.kubeconfig, "utf8").match(/server: (\S+)/)?.[1];
    expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const nodes = execFileSync(c.bins.kubectl, ["--kubeconfig", c.kubeconfig, "get", "nodes", "-o", "name"], { encoding: "utf8" });
    expect(nodes.trim()).toBe(`node/${c.cfg.nodeName}`);
  });

  it("splits 90/10 between v1 and v2, measured from a client pod", async () => {
    const t = await sample(400);
    expect(t.failures).toBe(0);
    // binomial(400, 0.1): sd 0.015; ±4 sd
    expect(share(t, "v2")).toBeGreaterThan(0.04);
    expect(share(t, "v2")).toBeLessThan(0.16);
    expect((t.versions["v1"] ?? 0) + (t.versions["v2"] ?? 0)).toBe(400);
  });

  it("routes by header, and shifts the split on a live kubectl patch", async () => {
    await apply(
      "reviews-vs",
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: demo}
spec:
  hosts: [reviews]
  http:
    - name: jason
      match: [{headers: {end-user: {exact: jason}}}]
      route: [{destination: {host: reviews, subset: v2}}]
    - name: canary-split
      route:
        - {destination: {host: reviews, subset: v1}, weight: 90}
        - {destination: {host: reviews, subset: v2}, weight: 10}
`,
    );
    const jason = await eventually("the header route", async () => {
      const t = await sample(50, ["end-user: jason"]);
      return t.versions["v2"] === 50 ? t : undefined;
    });
    expect(jason.failures).toBe(0);

    await c.kubectl([
      "-n",
      NS,
      "patch",
      "virtualservice",
      "reviews",
      "--type=json",
      "-p",
      JSON.stringify([
        { op: "replace", path: "/spec/http/1/route/0/weight", value: 50 },
        { op: "replace", path: "/spec/http/1/route/1/weight", value: 50 },
      ]),
    ]);
    // binomial(400, 0.5): sd 0.025; ±4 sd. The first sample may straddle the push: retry, bounded.
    const t = await eventually(
      "a 50/50 split",
      async () => {
        const s = await sample(400);
        return share(s, "v2") > 0.4 && share(s, "v2") < 0.6 ? s : undefined;
      },
      60_000,
      0,
    );
    expect(t.failures).toBe(0);
  });

  it("reports a broken subset in the VirtualService's status and keeps routing what is valid", async () => {
    await c.kubectl([
      "-n",
      NS,
      "patch",
      "virtualservice",
      "reviews",
      "--type=json",
      "-p",
      JSON.stringify([{ op: "replace", path: "/spec/http/1/route/1/destination/subset", value: "v3" }]),
    ]);
    try {
      const status = await eventually("a validation message", async () => {
        const vs = await c.json<{
          status?: { validationMessages?: { type?: { code?: string }; documentationUrl?: string }[]; conditions?: { type: string; status: string }[] };
        }>(["-n", NS, "get", "virtualservice", "reviews"]);
        return vs.status?.validationMessages?.some((m) => m.type?.code === "IST0101") ? vs.status : undefined;
      });
      expect(status.validationMessages?.map((m) => m.type?.code)).toContain("IST0101");
      const jason = await sample(30, ["end-user: jason"]);
      expect(jason.failures).toBe(0);
      expect(jason.versions["v2"]).toBe(30);
    } finally {
      await c.kubectl([
        "-n",
        NS,
        "patch",
        "virtualservice",
        "reviews",
        "--type=json",
        "-p",
        JSON.stringify([{ op: "replace", path: "/spec/http/1/route/1/destination/subset", value: "v2" }]),
      ]);
    }
  });

  it("follows a scaled Deployment through the EndpointSlice controller", async () => {
    await c.kubectl(["-n", NS, "scale", "deployment/reviews-v1", "--replicas=3"]);
    await c.kubectl(["-n", NS, "rollout", "status", "deployment/reviews-v1", "--timeout=120s"], { timeoutMs: 150_000 });
    const ips = new Set((await pods("app=reviews,version=v1")).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.status.podIP!));
    expect(ips.size).toBe(3);
    const seen = await eventually("Envoy's v1 cluster with 3 endpoints", async () => {
      const hosts = await envoyHosts(V1);
      return hosts.size === 3 ? hosts : undefined;
    });
    expect(seen).toEqual(ips);
    const t = await sample(200);
    expect(t.failures).toBe(0);
    expect(Object.keys(t.pods).filter((p) => p.startsWith("reviews-v1")).length).toBe(3);

    await c.kubectl(["-n", NS, "scale", "deployment/reviews-v1", "--replicas=1"]);
    await eventually("Envoy's v1 cluster back to 1 endpoint", async () => (await envoyHosts(V1)).size === 1);
  });

  it("takes a deleted pod's endpoint out before its container stops", async () => {
    const [victim] = (await pods("app=reviews,version=v1")).filter((p) => !p.metadata.deletionTimestamp);
    expect((await envoyHosts(V1)).has(victim!.status.podIP!)).toBe(true);
    // The app keeps serving for 8 s after SIGTERM (-drain-seconds in demo.yaml).
    await c.kubectl(["-n", NS, "delete", "pod", victim!.metadata.name, "--wait=false"]);
    await eventually("the endpoint gone from Envoy", async () => !(await envoyHosts(V1)).has(victim!.status.podIP!), 8_000, 200);
    const slice = await c.json<{
      items: { endpoints?: { addresses: string[]; conditions: { ready?: boolean; serving?: boolean; terminating?: boolean } }[] }[];
    }>(["-n", NS, "get", "endpointslices", "-l", "kubernetes.io/service-name=reviews"]);
    const ep = slice.items.flatMap((s) => s.endpoints ?? []).find((e) => e.addresses.includes(victim!.status.podIP!));
    // Still in the slice, terminating, and its container still running: the mesh let go first.
    expect(ep?.conditions).toMatchObject({ ready: false, serving: true, terminating: true });
    const now = (await pods("app=reviews,version=v1")).find((p) => p.metadata.name === victim!.metadata.name);
    expect(now?.status.containerStatuses?.find((s) => s.name === "reviews")?.state.running).toBeDefined();
    await c.kubectl(["-n", NS, "rollout", "status", "deployment/reviews-v1", "--timeout=120s"], { timeoutMs: 150_000 });
  });

  it("moves the Lease and reconnects Envoy through the Service when meshpilot replicas die, without a failed request", async () => {
    const mp = "meshpilot-system";
    const meshpilotPods = async () =>
      (await c.json<{ items: Pod[] }>(["-n", mp, "get", "pods", "-l", "app=meshpilot"])).items
        .filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => p.metadata.name);
    const holder = async () => (await c.json<{ spec: { holderIdentity?: string } }>(["-n", mp, "get", "lease", "meshpilot-status-leader"])).spec.holderIdentity;
    const connectedTo = async () => {
      for (const p of await meshpilotPods()) {
        const syncz = await c.exec(mp, p, "meshpilot", ["wget", "-qO-", "http://127.0.0.1:15014/debug/syncz"]).catch(() => "");
        if (syncz.includes(productpage)) return p;
      }
      return undefined;
    };
    const connected = async () => /control_plane\.connected_state: 1/.test(await admin("/stats?filter=control_plane.connected_state"));

    // Requests all along (bounded: 600 requests, 50 ms apart), while replicas are killed.
    const load = c.exec(
      NS,
      productpage,
      "client",
      [
        "timeout",
        "170",
        "sh",
        "-c",
        `for i in $(seq 600); do wget -qO- --header 'Host: reviews' http://127.0.0.1:9080/ >/dev/null 2>&1 && echo ok || echo FAILED; sleep 0.05; done`,
      ],
      { timeoutMs: 200_000 },
    );

    const killed: string[] = [];
    const kill = async (pod: string) => {
      killed.push(pod);
      await c.kubectl(["-n", mp, "delete", "pod", pod, "--grace-period=0", "--force"]);
    };
    const leader = await eventually("a Lease holder", holder);
    const server = await eventually("the replica Envoy is connected to", connectedTo);
    await kill(server);
    // Envoy finds the other replica through the Service.
    await eventually(
      "Envoy reconnected to a live replica",
      async () => {
        const now = await connectedTo();
        return now && !killed.includes(now) && (await connected());
      },
      60_000,
      500,
    );
    if (leader !== server) await kill(leader!);
    const newLeader = await eventually(
      "the Lease on a live replica",
      async () => {
        const h = await holder();
        return h && !killed.includes(h) && (await meshpilotPods()).includes(h) ? h : undefined;
      },
      90_000,
      1000,
    );
    expect(killed).not.toContain(newLeader);

    const results = (await load).split("\n").filter(Boolean);
    expect(results.length).toBe(600);
    expect(results.filter((r) => r !== "ok")).toEqual([]);
    // The new stream carries changes: shift everything to v1 and see it.
    await c.kubectl([
      "-n",
      NS,
      "patch",
      "virtualservice",
      "reviews",
      "--type=json",
      "-p",
      JSON.stringify([
        { op: "replace", path: "/spec/http/1/route/0/weight", value: 100 },
        { op: "replace", path: "/spec/http/1/route/1/weight", value: 0 },
      ]),
    ]);
    await eventually("all traffic on v1", async () => (await sample(40)).versions["v1"] === 40);
  });
});
