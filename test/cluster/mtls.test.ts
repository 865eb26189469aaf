/**
 * Identity and access control between injected pods of a real cluster: every sidecar (real Envoy,
 * iptables capture) bootstraps to meshpilot's secure port with its pod's projected token and gets
 * its workload certificate there. PERMISSIVE (the default) serves mesh clients over mTLS and
 * plaintext clients outside the mesh; STRICT refuses the latter; the certificate a sidecar holds
 * names its ServiceAccount; certificates rotate under load without a failed request; an
 * AuthorizationPolicy DENY keyed on one client's principal blocks one path for it alone; an ALLOW
 * policy requiring a JWT refuses requests without a valid token and serves a signed one.
 *
 * The tests share one namespace and run in order (each builds on the policies before it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_PORT } from "../support/bookinfo.js";
import {
  applyObjects,
  envoyAdmin,
  identifiedWorkload,
  idlePod,
  podNames,
  rollout,
  sendRequests,
  statusOf,
  type RequestSource,
  type RequestTally,
} from "../support/cluster-apps.js";
import { clusterTestsSkipped, eventually, useCluster, type TestCluster } from "../support/cluster.js";
import { jwtKey, signJwt } from "../support/jwt.js";

const NS = "mtls";
const OUTSIDE = "mtls-outside";
const MESHPILOT_NS = "meshpilot-system";
const ISSUER = "https://issuer.mtls.test";
/** Short enough to see two renewals at half life within the test's bounds (Istio's default is 24h). */
const SHORT_TTL = "100s";

interface CertInfo {
  serial_number: string;
  subject_alt_names?: { uri?: string; dns?: string }[];
  valid_from: string;
  expiration_time: string;
}
interface Certs {
  certificates: { ca_cert: CertInfo[]; cert_chain: CertInfo[] }[];
}

const spiffe = (sa: string) => `spiffe://cluster.local/ns/${NS}/sa/${sa}`;

describe.skipIf(clusterTestsSkipped)("mutual TLS, workload identity and authorization between injected pods", () => {
  let c: TestCluster;
  const web = `http://web.${NS}:${APP_PORT}`;
  const api = `http://api.${NS}:${APP_PORT}`;
  const from: Record<"a" | "b" | "outside", RequestSource> = {
    a: { ns: NS, pod: "", container: "client-a" },
    b: { ns: NS, pod: "", container: "client-b" },
    outside: { ns: OUTSIDE, pod: "client", container: "client" },
  };
  let originalArgs: string[] | undefined;

  const podOf = async (app: string): Promise<string> => {
    const names = await podNames(c, NS, `app=${app}`);
    if (names.length !== 1) throw new Error(`expected one pod app=${app} in ${NS}, found ${names.length}`);
    return names[0]!;
  };
  const sidecarAdmin = (pod: string, path: string) => envoyAdmin(c, NS, pod, "istio-proxy", path);
  /** The workload certificates (leaf of each chain) a pod's sidecar holds. */
  const leafCerts = async (app: string): Promise<CertInfo[]> => {
    const certs = JSON.parse(await sidecarAdmin(await podOf(app), "/certs")) as Certs;
    return certs.certificates.flatMap((x) => (x.cert_chain.length > 0 ? [x.cert_chain[0]!] : []));
  };
  const workloadCert = async (app: string, sa: string): Promise<CertInfo | undefined> =>
    (await leafCerts(app)).find((cert) => cert.subject_alt_names?.some((n) => n.uri === spiffe(sa)));
  const counter = async (pod: string, name: string): Promise<number> => {
    const out = await sidecarAdmin(pod, `/stats?filter=${encodeURIComponent(`^${name.replace(/[|.]/g, "\\$&")}$`)}`);
    const m = /: (\d+)\s*$/.exec(out.trim());
    return m ? Number(m[1]) : 0;
  };
  const meshpilotRollout = () => rollout(c, MESHPILOT_NS, "meshpilot");

  beforeAll(async () => {
    c = await useCluster();
    // Short-lived workload certificates from the start, so that every test runs while they rotate.
    const dep = await c.json<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(["-n", MESHPILOT_NS, "get", "deployment", "meshpilot"]);
    originalArgs = dep.spec.template.spec.containers[0]!.args;
    await c.kubectl([
      "-n",
      MESHPILOT_NS,
      "patch",
      "deployment",
      "meshpilot",
      "--type=json",
      "-p",
      JSON.stringify([{ op: "add", path: "/spec/template/spec/containers/0/args/-", value: `--workload-cert-ttl=${SHORT_TTL}` }]),
    ]);
    await meshpilotRollout();
    const image = c.images.byName["testapp"]!;
    await applyObjects(c, "mtls", [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "istio-injection": "enabled" } } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: OUTSIDE } },
      ...identifiedWorkload(NS, "web", "web", image),
      ...identifiedWorkload(NS, "api", "api", image),
      ...identifiedWorkload(NS, "client-a", "client-a", image),
      ...identifiedWorkload(NS, "client-b", "client-b", image),
      idlePod(OUTSIDE, "client", image),
    ]);
    for (const d of ["web", "api", "client-a", "client-b"]) await rollout(c, NS, d);
    await c.kubectl(["-n", OUTSIDE, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s"], { timeoutMs: 140_000 });
    from.a = { ...from.a, pod: await podOf("client-a") };
    from.b = { ...from.b, pod: await podOf("client-b") };
    await eventually(
      "web answers mesh and outside clients",
      async () => (await statusOf(c, from.a, `${web}/`)) === 200 && (await statusOf(c, from.outside, `${web}/`)) === 200,
      120_000,
      1000,
    );
  });

  afterAll(async () => {
    if (!c) return;
    // meshpilot as deploy/ wrote it again, for the files after this one.
    if (originalArgs) {
      await c.kubectl([
        "-n",
        MESHPILOT_NS,
        "patch",
        "deployment",
        "meshpilot",
        "--type=json",
        "-p",
        JSON.stringify([{ op: "replace", path: "/spec/template/spec/containers/0/args", value: originalArgs }]),
      ]);
      await meshpilotRollout();
    }
    await c.kubectl(["delete", "namespace", NS, OUTSIDE, "--wait=false", "--ignore-not-found"]);
  });

  it("PERMISSIVE (the default): mesh clients are served over mTLS, clients outside the mesh in plaintext", async () => {
    const mesh = await sendRequests(c, from.a, `${web}/`, { n: 5 });
    expect(mesh.tally).toMatchObject({ requests: 5, ok: 5 });
    // Auto mTLS: every connection client-a's sidecar opened to web (a mesh member) was TLS, without any DestinationRule.
    const stat = `cluster.outbound|${APP_PORT}||web.${NS}.svc.cluster.local`;
    const handshakes = await counter(from.a.pod, `${stat}.ssl.handshake`);
    expect(handshakes).toBeGreaterThan(0);
    expect(handshakes).toBe(await counter(from.a.pod, `${stat}.upstream_cx_total`));
    const outside = await sendRequests(c, from.outside, `${web}/`, { n: 5 });
    expect(outside.tally).toMatchObject({ requests: 5, ok: 5 });
  });

  it("the certificate each sidecar presents names its pod's ServiceAccount (Envoy admin /certs)", async () => {
    for (const [app, sa] of [
      ["web", "web"],
      ["client-a", "client-a"],
    ] as const) {
      const leaves = await leafCerts(app);
      const uris = leaves.flatMap((l) => (l.subject_alt_names ?? []).flatMap((n) => (n.uri ? [n.uri] : [])));
      expect(uris, app).toContain(spiffe(sa));
      // No other identity: the secure port gives a proxy only its own.
      expect(
        uris.every((u) => u === spiffe(sa)),
        `${app}: ${uris.join(", ")}`,
      ).toBe(true);
    }
  });

  it("STRICT refuses a plaintext client outside the mesh and still serves mesh clients", async () => {
    await applyObjects(c, "mtls-strict", [
      {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: { name: "web-strict", namespace: NS },
        spec: { selector: { matchLabels: { app: "web" } }, mtls: { mode: "STRICT" } },
      },
    ]);
    await eventually("web refuses the outside client", async () => (await statusOf(c, from.outside, `${web}/`)) === 0, 60_000, 1000);
    const refused = await sendRequests(c, from.outside, `${web}/`, { n: 3 });
    expect(refused.tally.ok).toBe(0);
    expect(refused.each.every((r) => r.status === undefined && r.error)).toBe(true);
    const mesh = await sendRequests(c, from.a, `${web}/`, { n: 5 });
    expect(mesh.tally).toMatchObject({ requests: 5, ok: 5 });
  });

  it("workload certificates rotate at half life while a bounded load loop runs, and no request fails", async () => {
    // meshpilot mints them with the short lifetime of --workload-cert-ttl (plus the minute they are backdated).
    const lifetime = (cert: CertInfo) => (Date.parse(cert.expiration_time) - Date.parse(cert.valid_from)) / 1000;
    const first = await workloadCert("web", "web");
    expect(first, "web's workload certificate").toBeDefined();
    expect(lifetime(first!)).toBeLessThanOrEqual(100 + 60 + 1);
    const serials = new Set<string>();
    const total: Pick<RequestTally, "requests" | "ok" | "errors"> = { requests: 0, ok: 0, errors: 0 };
    const failures: string[] = [];
    const deadline = Date.now() + 180_000;
    // Bounded: at most 400 batches of 20 requests, and 180 s; done once web's certificate was replaced twice.
    for (let batch = 0; batch < 400 && Date.now() < deadline && serials.size < 3; batch++) {
      const r = await sendRequests(c, from.a, `${web}/`, { n: 20 });
      total.requests += r.tally.requests;
      total.ok += r.tally.ok;
      total.errors += r.tally.errors;
      for (const e of r.each) if (e.status !== 200) failures.push(JSON.stringify(e));
      const cert = await workloadCert("web", "web");
      if (cert) serials.add(cert.serial_number);
    }
    expect(serials.size, "distinct certificates web's sidecar held during the loop").toBeGreaterThanOrEqual(2);
    expect(failures).toEqual([]);
    expect(total.errors).toBe(0);
    expect(total.ok).toBe(total.requests);
    expect(total.requests).toBeGreaterThan(0);
  });

  it("an AuthorizationPolicy DENY blocks one path for one ServiceAccount and leaves other accounts and paths", async () => {
    await applyObjects(c, "mtls-deny", [
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: "no-admin-for-a", namespace: NS },
        spec: {
          selector: { matchLabels: { app: "web" } },
          action: "DENY",
          rules: [{ from: [{ source: { principals: [`cluster.local/ns/${NS}/sa/client-a`] } }], to: [{ operation: { paths: ["/admin"] } }] }],
        },
      },
    ]);
    await eventually("client-a is denied /admin", async () => (await statusOf(c, from.a, `${web}/admin`)) === 403, 60_000, 1000);
    expect(await statusOf(c, from.a, `${web}/`)).toBe(200);
    expect(await statusOf(c, from.a, `${web}/other`)).toBe(200);
    expect(await statusOf(c, from.b, `${web}/admin`)).toBe(200);
    expect(await statusOf(c, from.b, `${web}/`)).toBe(200);
  });

  it("an ALLOW policy requiring a JWT refuses requests without a valid token and serves a signed one", async () => {
    const { privateKey, jwk } = jwtKey("mtls-key");
    const other = jwtKey("mtls-key");
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: "alice", iat: now, exp: now + 3600 };
    await applyObjects(c, "mtls-jwt", [
      {
        apiVersion: "security.istio.io/v1",
        kind: "RequestAuthentication",
        metadata: { name: "api-jwt", namespace: NS },
        spec: { selector: { matchLabels: { app: "api" } }, jwtRules: [{ issuer: ISSUER, jwks: JSON.stringify({ keys: [jwk] }) }] },
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: "api-require-jwt", namespace: NS },
        spec: { selector: { matchLabels: { app: "api" } }, action: "ALLOW", rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] },
      },
    ]);
    const bearer = (token: string) => [`authorization: Bearer ${token}`];
    await eventually("api refuses a request without a token", async () => (await statusOf(c, from.a, `${api}/`)) === 403, 60_000, 1000);
    expect(await statusOf(c, from.a, `${api}/`, bearer(signJwt(other.privateKey, "mtls-key", claims)))).toBe(401);
    expect(await statusOf(c, from.a, `${api}/`, bearer("not.a.jwt"))).toBe(401);
    // Expired beyond Envoy's default clock skew (60 s), which accepts a token expired less long ago.
    expect(await statusOf(c, from.a, `${api}/`, bearer(signJwt(privateKey, "mtls-key", { ...claims, exp: now - 600 })))).toBe(401);
    const signed = await sendRequests(c, from.a, `${api}/`, { headers: bearer(signJwt(privateKey, "mtls-key", claims)) });
    expect(signed.each[0]?.status).toBe(200);
    expect(signed.each[0]?.body?.service).toBe("api");
    // The policy is api's alone: web still serves without a token.
    expect(await statusOf(c, from.a, `${web}/`)).toBe(200);
  });
});
