// Which credentialName Secrets a gateway (router) proxy receives on the secure port: only
// `kubernetes://<name>` of a Secret in its own namespace that a Gateway selecting it names, and
// only when the caller's identity is of that namespace. Real meshpilot (file source, mesh CA,
// secure port), real gRPC over TLS with client certificates of the mesh CA; the Secrets hold
// distinct certificates, so what arrives says which namespace's Secret it is.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../../src/runtime/serve.js";
import { TYPE_URL } from "../../../src/xds/type-urls.js";
import { TestCerts } from "../../support/certs.js";
import { AdsClient, names } from "../../support/xds-client.js";

const SDS = TYPE_URL.secret;
const SERVER_NAME = "meshpilot.meshpilot-system.svc";
const dir = mkdtempSync(join(tmpdir(), "meshpilot-gw-entitlement-"));
const certs = new TestCerts("meshpilot-gw-entitlement-");

/** A kubernetes.io/tls Secret whose certificate is `leaf`'s. */
const secret = (ns: string, name: string, leaf: string) => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${ns} }
type: kubernetes.io/tls
data:
  tls.crt: ${certs.b64(`${leaf}.pem`)}
  tls.key: ${certs.b64(`${leaf}-key.pem`)}
`;
const gateway = (ns: string, name: string, credentialName: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${ns} }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https-${name}, protocol: HTTPS }
      hosts: ["${name}.example"]
      tls: { mode: SIMPLE, credentialName: ${credentialName} }
`;

let server: RunningServer;
const clients: AdsClient[] = [];

/** A secure ADS client proving `ns`/`sa` with a client certificate of the mesh CA. */
async function client(ns: string, sa: string): Promise<AdsClient> {
  const id = server.identity!;
  const cert = await id.ca.issueWorkload({ namespace: ns, serviceAccount: sa });
  const c = new AdsClient(`127.0.0.1:${server.secureXdsPort}`, {
    credentials: credentials.createSsl(Buffer.from(id.ca.rootPem), Buffer.from(cert.keyPem), Buffer.from(cert.certChainPem)),
    channelOptions: { "grpc.ssl_target_name_override": SERVER_NAME, "grpc.default_authority": SERVER_NAME },
  });
  clients.push(c);
  return c;
}
const routerNode = (ns: string) => ({
  id: `router~10.244.0.7~istio-ingressgateway-1.${ns}~${ns}.svc.cluster.local`,
  cluster: `istio-ingressgateway.${ns}`,
  metadata: { LABELS: { istio: "ingressgateway" }, INTERCEPTION_MODE: "NONE" },
});
const asked = ["kubernetes://named", "kubernetes://named-cacert", "kubernetes://unnamed", "kubernetes://elsewhere"];
/** Whose certificate a Secret carries. */
const leafOf = (bytes: Uint8Array): string[] =>
  ["edge", "other", "unnamed", "elsewhere"].filter((l) => Buffer.from(bytes).includes(readFileSync(certs.path(`${l}.pem`), "utf8").trim()));

beforeAll(async () => {
  certs.leaf("edge", "DNS:named.example").leaf("other", "DNS:named.example").leaf("unnamed", "DNS:unnamed.example").leaf("elsewhere", "DNS:elsewhere.example");
  writeFileSync(
    join(dir, "mesh.yaml"),
    [
      // A Gateway in the proxy's namespace and one in another namespace select the proxy; both
      // name Secrets, which Istio reads from the proxy's namespace only.
      gateway("edge", "named", "named"),
      gateway("apps", "elsewhere", "elsewhere"),
      secret("edge", "named", "edge"),
      secret("other", "named", "other"),
      // In the proxy's namespace, but no Gateway names it.
      secret("edge", "unnamed", "unnamed"),
      // Named, but in the Gateway's namespace, not the proxy's.
      secret("apps", "elsewhere", "elsewhere"),
    ].join("---\n"),
  );
  server = await startServer({
    configDir: dir,
    xdsAddress: "127.0.0.1:0",
    debugAddress: "127.0.0.1:0",
    logger: pino({ level: "silent" }),
    identity: { secureXdsAddress: "127.0.0.1:0", caNamespace: "meshpilot-system", dnsNames: [SERVER_NAME] },
  });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
  certs.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe("credentialName Secrets of a gateway on the secure port", () => {
  it("a router gets the Secret of its own namespace that a Gateway selecting it names, and no other", async () => {
    const s = (await client("edge", "istio-ingressgateway")).sotw();
    s.send({ node: routerNode("edge"), typeUrl: SDS, resourceNames: asked });
    const sds = await s.nextOf(SDS, 15_000);
    expect(names(sds)).toEqual(["kubernetes://named"]);
    expect(leafOf(sds.resources[0]!.value)).toEqual(["edge"]);
  });

  it("the router of another namespace gets that namespace's Secret of the same name", async () => {
    const s = (await client("other", "istio-ingressgateway")).delta();
    s.send({ node: routerNode("other"), typeUrl: SDS, resourceNamesSubscribe: asked });
    const sds = await s.nextOf(SDS, 15_000);
    expect(sds.resources.map((r) => r.name)).toEqual(["kubernetes://named"]);
    expect(leafOf(sds.resources[0]!.resource!.value)).toEqual(["other"]);
  });

  it("an identity of another namespace cannot claim the router's namespace to get its Secrets", async () => {
    const s = (await client("other", "istio-ingressgateway")).sotw();
    s.send({ node: routerNode("edge"), typeUrl: SDS, resourceNames: asked });
    const end = await s.endedWithin(15_000);
    expect(end.code).toBe(status.PERMISSION_DENIED);
    expect(s.buffered).toBe(0);
  });

  it("a sidecar of the namespace with the gateway's labels gets none: Gateways select routers only", async () => {
    const s = (await client("edge", "istio-ingressgateway")).sotw();
    const n = routerNode("edge");
    s.send({
      node: { ...n, id: n.id.replace(/^router~/, "sidecar~"), metadata: { ...n.metadata, INTERCEPTION_MODE: "REDIRECT" } },
      typeUrl: SDS,
      resourceNames: asked,
    });
    expect(names(await s.nextOf(SDS, 15_000))).toEqual([]);
  });

  it("the plaintext port sends none of them", async () => {
    const c = new AdsClient(`127.0.0.1:${server.xdsPort}`);
    clients.push(c);
    const s = c.sotw();
    s.send({ node: routerNode("edge"), typeUrl: SDS, resourceNames: asked });
    expect(names(await s.nextOf(SDS, 15_000))).toEqual([]);
  });
});
