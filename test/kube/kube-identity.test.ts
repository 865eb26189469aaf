/**
 * The mesh CA and the secure port against a real kube-apiserver, with meshpilot running under the
 * ServiceAccount and RBAC of deploy/: the self-signed root lands in `istio-ca-secret` and a second
 * replica signs with it; the root is published as `istio-ca-root-cert` in every namespace and put
 * back when deleted; Istio's CreateCertificate signs only for the identity a TokenRequest token
 * (audience istio-ca) proves; on the secure ADS port a proxy gets configuration and its own
 * `default`/`ROOTCA` Secrets only for its own namespace, and a real Envoy connects there with a
 * token, or with a client certificate obtained by `meshpilot bootstrap --client-cert`.
 *
 * The tests in this file share one API server and run in order.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCaMaterial, SELF_SIGNED_SECRET } from "../../src/ca/ca-source.js";
import { bootstrapCommand } from "../../src/cli/bootstrap.js";
import { buildBootstrap } from "../../src/translate/bootstrap.js";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { KubeClient } from "../../src/sources/kube/client.js";
import { TYPE_URL } from "../../src/xds/type-urls.js";
import { CaClient } from "../support/ca-client.js";
import { startEnvoy, type Envoy } from "../support/envoy.js";
import { DEPLOY_DIR, kubeTestsSkipped, startKube, type KubeCluster, type KubeTestClient } from "../support/kube.js";
import { until } from "../support/wait.js";
import { AdsClient, names } from "../support/xds-client.js";

const MESHPILOT_NS = "meshpilot-system";
const SERVER_NAME = `meshpilot.${MESHPILOT_NS}.svc`;
const SDS = TYPE_URL.secret;
const CDS = TYPE_URL.cluster;

/** An RSA CSR made by openssl, asking for `uriSan` (which the CA must ignore). */
function csr(dir: string, uriSan: string): string {
  const cfg = join(dir, "csr.cnf");
  writeFileSync(cfg, `[req]\ndistinguished_name=dn\nreq_extensions=ext\nprompt=no\n[dn]\nO=x\n[ext]\nsubjectAltName=URI:${uriSan}\n`);
  return execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "csr-key.pem"), "-config", cfg], {
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

const uriSans = (pem: string) => (new X509Certificate(pem).subjectAltName ?? "").split(", ").filter((s) => s.startsWith("URI:"));
const nodeId = (ns: string, pod = "cart-1") => `sidecar~127.0.0.1~${pod}.${ns}~${ns}.svc.cluster.local`;

describe.skipIf(kubeTestsSkipped)("mesh CA and secure xDS with a real kube-apiserver", () => {
  let kube: KubeCluster;
  let admin: KubeTestClient;
  let server: RunningServer | undefined;
  const envoys: Envoy[] = [];
  const dir = mkdtempSync(join(tmpdir(), "meshpilot-kube-identity-"));
  const lines: string[] = [];
  const logger: Logger = pino({ level: "debug", base: { app: "meshpilot" } }, { write: (s: string) => void lines.push(s) });
  let meshpilotConfig: ReturnType<KubeCluster["kubeConfig"]>;
  let root = "";
  let cartToken = "";
  let evilToken = "";
  const secureAddress = () => `127.0.0.1:${server!.secureXdsPort}`;
  const tls = () => credentials.createSsl(Buffer.from(root));
  const tlsOptions = { "grpc.ssl_target_name_override": SERVER_NAME, "grpc.default_authority": SERVER_NAME };
  const ads = (token?: string) =>
    new AdsClient(secureAddress(), { credentials: tls(), channelOptions: tlsOptions, ...(token !== undefined ? { bearerToken: token } : {}) });
  const ca = () => new CaClient(secureAddress(), { rootPem: root, serverName: SERVER_NAME });

  beforeAll(async () => {
    kube = await startKube({ name: "identity" });
    admin = kube.admin;
    await kube.installCrds();
    await admin.applyAll(readFileSync(join(DEPLOY_DIR, "meshpilot.yaml"), "utf8"));
    for (const ns of ["shop", "other"]) await admin.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await admin.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cart", namespace: "shop" } });
    await admin.apply({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "evil", namespace: "other" } });
    await admin.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "catalog", namespace: "shop" },
      spec: { ports: [{ name: "http", port: 8080, targetPort: 8080 }] },
    });
    meshpilotConfig = kube.kubeConfig(await kube.serviceAccountToken(MESHPILOT_NS, "meshpilot"), "meshpilot");
    server = await startServer({
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger,
      kube: { kubeConfig: meshpilotConfig, leaseNamespace: MESHPILOT_NS },
      identity: { secureXdsAddress: "127.0.0.1:0", caNamespace: MESHPILOT_NS, dnsNames: [SERVER_NAME], rootResyncMs: 300 },
    });
    root = server.identity!.ca.rootPem;
    cartToken = await kube.serviceAccountToken("shop", "cart", 3600, ["istio-ca"]);
    evilToken = await kube.serviceAccountToken("other", "evil", 3600, ["istio-ca"]);
  }, 1_800_000);

  afterAll(async () => {
    for (const e of envoys) await e.stop();
    await server?.stop();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the self-signed root in istio-ca-secret, and another replica signs with the same root", async () => {
    const secret = await admin.get({ apiVersion: "v1", kind: "Secret", metadata: { name: SELF_SIGNED_SECRET, namespace: MESHPILOT_NS } });
    const data = (secret as { data?: Record<string, string> } | undefined)?.data ?? {};
    expect(Buffer.from(data["ca-cert.pem"] ?? "", "base64").toString()).toBe(root);
    expect(data["ca-key.pem"]).toBeTruthy();
    const replica = await loadCaMaterial({ client: new KubeClient(meshpilotConfig), namespace: MESHPILOT_NS, trustDomain: "cluster.local" });
    expect(replica.created).toBe(false);
    expect(replica.material.rootPem).toBe(root);
    expect(new X509Certificate(root).ca).toBe(true);
  });

  it("publishes the root as istio-ca-root-cert in every namespace, and puts it back when deleted or edited", async () => {
    const cm = (ns: string) =>
      admin.get({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "istio-ca-root-cert", namespace: ns } }) as Promise<
        { data?: Record<string, string> } | undefined
      >;
    for (const ns of ["shop", "other", "default", MESHPILOT_NS])
      await until(async () => (await cm(ns))?.data?.["root-cert.pem"] === root, `istio-ca-root-cert in ${ns}`);
    await admin.delete({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "istio-ca-root-cert", namespace: "shop" } });
    await until(async () => (await cm("shop"))?.data?.["root-cert.pem"] === root, "istio-ca-root-cert recreated in shop");
    await admin.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "istio-ca-root-cert", namespace: "other" },
      data: { "root-cert.pem": "tampered" },
    });
    await until(async () => (await cm("other"))?.data?.["root-cert.pem"] === root, "istio-ca-root-cert restored in other");
    await admin.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "late" } });
    await until(async () => (await cm("late"))?.data?.["root-cert.pem"] === root, "istio-ca-root-cert in a namespace created later");
  });

  it("CreateCertificate signs for the token's identity only (the CSR's SAN is ignored), over TLS from the mesh root", async () => {
    const c = ca();
    try {
      const res = await c.create(csr(dir, "spiffe://cluster.local/ns/kube-system/sa/admin"), { token: cartToken, ttlSeconds: 7200 });
      if (!("certChain" in res)) throw new Error(`refused: ${res.details}`);
      expect(uriSans(res.certChain[0]!)).toEqual(["URI:spiffe://cluster.local/ns/shop/sa/cart"]);
      expect(res.certChain.at(-1)).toBe(root);
      const leaf = new X509Certificate(res.certChain[0]!);
      expect(leaf.verify(new X509Certificate(root).publicKey)).toBe(true);
      expect(Date.parse(leaf.validTo) - Date.now()).toBeLessThanOrEqual(7200_000);
      expect(Date.parse(leaf.validTo) - Date.now()).toBeGreaterThan(7000_000);
    } finally {
      c.close();
    }
  });

  it("CreateCertificate refuses a caller without a valid istio-ca token, and impersonation", async () => {
    const c = ca();
    try {
      const req = csr(dir, "spiffe://cluster.local/ns/shop/sa/cart");
      const apiAudience = await kube.serviceAccountToken("shop", "cart"); // the API server's own audience, not istio-ca
      for (const token of [undefined, "not-a-token", apiAudience]) {
        expect(await c.create(req, token === undefined ? {} : { token })).toEqual({ code: status.UNAUTHENTICATED, details: "request authenticate failure" });
      }
      expect(await c.create(req, { token: cartToken, metadata: { ImpersonatedIdentity: "spiffe://cluster.local/ns/other/sa/evil" } })).toMatchObject({
        code: status.UNAUTHENTICATED,
      });
      expect(await c.create("garbage", { token: cartToken })).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/csr/) });
    } finally {
      c.close();
    }
    // The refusal reasons are in meshpilot's log; no token ever is.
    const log = lines.join("");
    expect(log).toContain("is invalid for the target audiences");
    expect(log).not.toContain(cartToken);
    expect(log).not.toContain("PRIVATE KEY");
  });

  it("secure ADS: a token of another namespace, a forged service account, or no token gets no configuration and no certificate", async () => {
    const evil = ads(evilToken);
    const s = evil.sotw();
    s.send({ node: { id: nodeId("shop"), cluster: "cart.shop" }, typeUrl: SDS, resourceNames: ["default", "ROOTCA"] });
    const end = await s.endedWithin();
    expect(end.code).toBe(status.PERMISSION_DENIED);
    expect(end.details).toContain('the node is in namespace "shop" but the caller\'s identity is in "other"');
    expect(s.buffered).toBe(0);
    evil.close();

    const cart = ads(cartToken);
    const forged = cart.delta();
    forged.send({ node: { id: nodeId("shop"), cluster: "cart.shop", metadata: { SERVICE_ACCOUNT: "admin" } }, typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const forgedEnd = await forged.endedWithin();
    expect(forgedEnd.code).toBe(status.PERMISSION_DENIED);
    expect(forgedEnd.details).toContain('SERVICE_ACCOUNT "admin"');
    cart.close();

    const anon = ads();
    const a = anon.sotw();
    a.send({ node: { id: nodeId("shop"), cluster: "cart.shop" }, typeUrl: CDS });
    expect(await a.endedWithin()).toMatchObject({ code: status.UNAUTHENTICATED });
    anon.close();
  });

  it("secure ADS: the proxy of the token's namespace gets its configuration and its own default and ROOTCA", async () => {
    const cart = ads(cartToken);
    const s = cart.sotw();
    s.send({ node: { id: nodeId("shop"), cluster: "cart.shop" }, typeUrl: CDS });
    const cds = await s.nextOf(CDS, 15_000);
    expect(names(cds)).toContain("outbound|8080||catalog.shop.svc.cluster.local");
    s.send({ typeUrl: SDS, resourceNames: ["default", "ROOTCA"] });
    // The first answer may come before the certificate is minted; it is pushed once it is.
    let sds = await s.nextOf(SDS, 15_000);
    if (names(sds).length === 0) {
      s.ack(sds, ["default", "ROOTCA"]);
      sds = await s.nextOf(SDS, 15_000);
    }
    expect(names(sds).sort()).toEqual(["ROOTCA", "default"]);
    const text = Buffer.concat(sds.resources.map((r) => Buffer.from(r.value))).toString("latin1");
    const pems = [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]);
    expect(pems.some((p) => uriSans(p).includes("URI:spiffe://cluster.local/ns/shop/sa/cart"))).toBe(true);
    expect(text).toContain(root.trim().split("\n")[1]!);
    cart.close();
  });

  it("a real Envoy connects to the secure port with a token and holds its workload certificate (admin /certs) and config", async () => {
    const rootFile = join(dir, "root-cert.pem");
    writeFileSync(rootFile, root);
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, cartToken);
    const r = await bootstrapCommand({
      nodeId: nodeId("shop", "cart-envoy"),
      xdsAddress: secureAddress(),
      adminAddress: "127.0.0.1:15000",
      interception: "NONE",
      label: ["app=cart"],
      secure: true,
      caCert: rootFile,
      tokenFile,
      serverName: SERVER_NAME,
    });
    if ("error" in r) throw new Error(r.error);
    const envoy = await startEnvoy({ name: "kube-identity-token", bootstrap: withWorkloadCertUser(withoutAdmin(r.output)) });
    envoys.push(envoy);
    await envoy.waitFor(async () => JSON.stringify(await envoy.configDump("dynamic_active_clusters")).includes("catalog.shop.svc.cluster.local"), {
      what: "the catalog cluster over the secure port",
      timeoutMs: 20_000,
    });
    await envoy.waitFor(async () => (await envoy.adminRequest("/certs")).includes("spiffe://cluster.local/ns/shop/sa/cart"), {
      what: "the workload certificate in /certs",
      timeoutMs: 20_000,
    });
    const certs = JSON.parse(await envoy.adminRequest("/certs")) as { certificates: Array<{ ca_cert: unknown[]; cert_chain: unknown[] }> };
    expect(certs.certificates.some((c) => c.ca_cert.length > 0 && c.cert_chain.length > 0)).toBe(true);
    const secrets = JSON.stringify(await envoy.configDump("dynamic_active_secrets"));
    expect(secrets).toContain('"default"');
    expect(secrets).toContain('"ROOTCA"');
  });

  it("a real Envoy reads its token from a file (an injected sidecar's projected token) on every connect", async () => {
    const rootFile = join(dir, "root-cert.pem");
    writeFileSync(rootFile, root);
    const tokenFile = join(dir, "projected-token");
    writeFileSync(tokenFile, "not-a-valid-token");
    const built = buildBootstrap({
      nodeId: nodeId("shop", "cart-file"),
      xdsAddress: secureAddress(),
      interception: "NONE",
      labels: { app: "cart" },
      secure: { caCertFile: rootFile, tokenFile, serverName: SERVER_NAME },
    });
    if (!built.bootstrap) throw new Error(JSON.stringify(built.errors));
    expect(JSON.stringify(built.bootstrap)).not.toContain(cartToken);
    const envoy = await startEnvoy({ name: "kube-identity-token-file", bootstrap: withWorkloadCertUser(withoutAdmin(JSON.stringify(built.bootstrap))) });
    envoys.push(envoy);
    // Refused while the file holds no valid token; the kubelet's next write is read on the retry.
    const refusals = () => lines.filter((l) => l.includes("xDS stream refused") && l.includes("authentication failed")).length;
    const before = refusals();
    await until(async () => refusals() > before, "the first, refused connect");
    expect(JSON.stringify(await envoy.configDump("dynamic_active_clusters"))).not.toContain("catalog.shop.svc.cluster.local");
    writeFileSync(tokenFile, cartToken);
    await envoy.waitFor(async () => JSON.stringify(await envoy.configDump("dynamic_active_clusters")).includes("catalog.shop.svc.cluster.local"), {
      what: "the catalog cluster once the token file holds a valid token",
      timeoutMs: 40_000,
    });
    await envoy.waitFor(async () => (await envoy.adminRequest("/certs")).includes("spiffe://cluster.local/ns/shop/sa/cart"), {
      what: "the workload certificate in /certs",
      timeoutMs: 20_000,
    });
  });

  it("`meshpilot bootstrap --client-cert` obtains a certificate with the token; Envoy then connects with it alone", async () => {
    const rootFile = join(dir, "root-cert.pem");
    const tokenFile = join(dir, "token");
    const certDir = join(dir, "client");
    const r = await bootstrapCommand({
      nodeId: nodeId("shop", "cart-mtls"),
      xdsAddress: secureAddress(),
      adminAddress: "127.0.0.1:15000",
      interception: "NONE",
      label: ["app=cart"],
      secure: true,
      caCert: rootFile,
      tokenFile,
      serverName: SERVER_NAME,
      clientCert: certDir,
    });
    if ("error" in r) throw new Error(r.error);
    expect(r.output).not.toContain(cartToken);
    expect(uriSans(readFileSync(join(certDir, "cert-chain.pem"), "utf8"))).toEqual(["URI:spiffe://cluster.local/ns/shop/sa/cart"]);
    const envoy = await startEnvoy({ name: "kube-identity-cert", bootstrap: withoutAdmin(r.output) });
    envoys.push(envoy);
    await envoy.waitFor(async () => JSON.stringify(await envoy.configDump("dynamic_active_clusters")).includes("catalog.shop.svc.cluster.local"), {
      what: "the catalog cluster, authenticated by client certificate",
      timeoutMs: 20_000,
    });
    const connected = lines.filter((l) => l.includes("proxy connected") && l.includes("cart-mtls.shop"));
    expect(connected.length).toBeGreaterThan(0);
    expect(connected.every((l) => l.includes('"identity":"shop/cart"') && l.includes('"via":"certificate"'))).toBe(true);
  });
});

/** The bootstrap without its fixed admin port: the test Envoy picks a free one. */
function withoutAdmin(output: string) {
  const { admin: _fixed, ...rest } = JSON.parse(output) as {
    admin: unknown;
    staticResources: { clusters: object[] };
    dynamicResources: { adsConfig: { grpcServices: object[] } };
  };
  return rest;
}

/**
 * The bootstrap plus a static cluster whose TLS uses the workload Secrets, so that Envoy asks for
 * `default` and `ROOTCA` without depending on what the translated config references. A static
 * cluster cannot take SDS over ADS (Envoy 1.40 crashes: ADS does not exist yet when static
 * clusters are made), so it uses meshpilot's SDS service on the secure port, with the token.
 */
function withWorkloadCertUser(bootstrap: { staticResources: { clusters: object[] }; dynamicResources: { adsConfig: { grpcServices: object[] } } }): object {
  const grpc = bootstrap.dynamicResources.adsConfig.grpcServices[0]!;
  const sds = (name: string) => ({
    name,
    sdsConfig: { apiConfigSource: { apiType: "GRPC", transportApiVersion: "V3", grpcServices: [grpc] }, resourceApiVersion: "V3" },
  });
  bootstrap.staticResources.clusters.push({
    name: "uses-workload-cert",
    type: "STATIC",
    connectTimeout: "1s",
    loadAssignment: {
      clusterName: "uses-workload-cert",
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: 9 } } } }] }],
    },
    transportSocket: {
      name: "envoy.transport_sockets.tls",
      typedConfig: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        commonTlsContext: { tlsCertificateSdsSecretConfigs: [sds("default")], validationContextSdsSecretConfig: sds("ROOTCA") },
      },
    },
  });
  return bootstrap;
}
