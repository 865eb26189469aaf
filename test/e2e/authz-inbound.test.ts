/**
 * Authorization and JWT validation through a real Envoy's inbound side, without a cluster: a
 * sidecar (INTERCEPTION_MODE NONE) whose Sidecar resource binds an ingress port on 127.0.0.1 in
 * front of a test application, fed by meshpilot from a config directory.
 *
 *   - a DENY on /admin refuses it with 403 and leaves other paths to the application;
 *   - a RequestAuthentication alone refuses a token that does not verify (401) and lets requests
 *     without one through, as Istio does;
 *   - with a RequestAuthentication (keys made here, inline JWKS) and an ALLOW requiring a request
 *     principal of the test issuer: no token → 403, a token that does not verify (malformed, signed
 *     by another key, expired, another issuer) → 401, a token for another audience → 403 from the
 *     JWT filter, a signed token for the allowed subject → 200, one for another subject → 403, and
 *     the DENY still refuses /admin to the allowed subject.
 *
 * Principal-based (mTLS peer) rules are not exercised here: they need the mesh's certificates.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/runtime/serve.js";
import { httpRequest, startBackend, type Backend } from "../support/backend.js";
import { startSidecarEnvoy, type Envoy } from "../support/envoy.js";
import { canBind, randomInt } from "../support/net.js";
import { jwtKey, signJwt as jwt } from "../support/jwt.js";
import { until } from "../support/wait.js";

const ISSUER = "https://issuer.authz.test";

async function freePorts(n: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = randomInt(20_000, 31_900);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    if ((await Promise.all(ports.map((p) => canBind("127.0.0.1", p)))).every(Boolean)) return ports;
  }
  throw new Error("no free ports");
}

describe("inbound authorization through a real Envoy", () => {
  let dir: string;
  let server: RunningServer;
  let envoy: Envoy;
  let app: Backend;
  let ingressPort: number;
  const { privateKey, jwk } = jwtKey("test-key");
  const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const now = Math.floor(Date.now() / 1000);
  const claims = (sub: string) => ({ iss: ISSUER, sub, aud: "ratings", iat: now, exp: now + 3600 });

  const base = (appPort: number) => `apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.201.1, selector: { app: ratings }, ports: [{ name: http, port: 80, targetPort: ${appPort} }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ratings, namespace: default }
spec:
  workloadSelector: { labels: { app: ratings } }
  ingress:
    - port: { number: ${ingressPort}, protocol: HTTP, name: http }
      bind: 127.0.0.1
      defaultEndpoint: 127.0.0.1:${appPort}
  egress: [{ hosts: ["./*"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin", "/admin/*"] } }] }]
`;
  const requestAuthn = `---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  jwtRules:
    - issuer: ${ISSUER}
      audiences: [ratings]
      jwks: '${JSON.stringify({ keys: [jwk] })}'
`;
  const requireAlice = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-alice, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  rules: [{ from: [{ source: { requestPrincipals: ["${ISSUER}/alice"] } }] }]
`;

  const get = (path: string, token?: string) =>
    httpRequest(`http://127.0.0.1:${ingressPort}${path}`, {
      host: "ratings",
      timeoutMs: 10_000,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });

  beforeAll(async () => {
    const [appPort, port] = await freePorts(2);
    ingressPort = port!;
    app = await startBackend({ version: "v1", name: "ratings", host: "127.0.0.1", port: appPort! });
    dir = mkdtempSync(join(tmpdir(), "meshpilot-authz-"));
    writeFileSync(join(dir, "mesh.yaml"), base(appPort!));
    server = await startServer({
      configDir: dir,
      xdsAddress: "127.0.0.1:0",
      debugAddress: "127.0.0.1:0",
      logger: pino({ level: "warn" }, { write: () => undefined }),
      debounceMs: 20,
      debounceMaxMs: 200,
    });
    envoy = await startSidecarEnvoy("authz-inbound", {
      nodeId: "sidecar~127.0.0.1~ratings-0.default~default.svc.cluster.local",
      xdsAddress: `127.0.0.1:${server.xdsPort}`,
      labels: { app: "ratings" },
      waitReady: false,
    });
    await envoy.waitReady(20_000);
    const listener = `127.0.0.1_${ingressPort}`;
    await envoy.waitFor(async () => (await envoy.listenerAddress(listener)).port === ingressPort, { timeoutMs: 20_000, what: `listener ${listener}` });
  }, 60_000);

  afterAll(async () => {
    await envoy?.stop();
    await server?.stop();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses the denied path with 403 and serves the others", async () => {
    app.reset();
    expect((await get("/admin")).status).toBe(403);
    expect((await get("/admin/users")).status).toBe(403);
    const ok = await get("/ratings/1");
    expect(ok.status).toBe(200);
    expect(app.requests.map((r) => r.path)).toEqual(["/ratings/1"]);
  });

  it("with a RequestAuthentication alone: a bad token is refused (401), no token and a good one pass", async () => {
    writeFileSync(join(dir, "mesh.yaml"), base(app.port) + requestAuthn);
    await until(async () => (await get("/ratings/1", "not.a.token")).status === 401, "the JWT filter to refuse a malformed token");
    expect((await get("/ratings/1")).status).toBe(200);
    expect((await get("/ratings/1", jwt(privateKey, "test-key", claims("bob")))).status).toBe(200);
    expect((await get("/ratings/1", jwt(other.privateKey, "test-key", claims("bob")))).status).toBe(401);
  });

  it("with a JWT requirement: 403 without a token, 401 for a bad one, 200 for the allowed subject only", async () => {
    writeFileSync(join(dir, "mesh.yaml"), base(app.port) + requestAuthn + requireAlice);
    await until(async () => (await get("/ratings/1")).status === 403, "the ALLOW policy to refuse requests without a token");

    const alice = jwt(privateKey, "test-key", claims("alice"));
    expect((await get("/ratings/1")).status).toBe(403);
    expect((await get("/ratings/1", "not.a.token")).status).toBe(401);
    expect((await get("/ratings/1", jwt(other.privateKey, "test-key", claims("alice")))).status).toBe(401);
    // Ten minutes past: well beyond Envoy's default 60 s clock skew.
    expect((await get("/ratings/1", jwt(privateKey, "test-key", { ...claims("alice"), exp: now - 600 }))).status).toBe(401);
    expect((await get("/ratings/1", jwt(privateKey, "test-key", { ...claims("alice"), iss: "https://elsewhere.test" }))).status).toBe(401);
    // A verified token for another audience is refused by the JWT filter itself, with 403 (as with Istio).
    const wrongAudience = await get("/ratings/1", jwt(privateKey, "test-key", { ...claims("alice"), aud: "other" }));
    expect([wrongAudience.status, wrongAudience.body]).toEqual([403, "Audiences in Jwt are not allowed"]);
    expect((await get("/ratings/1", jwt(privateKey, "test-key", claims("bob")))).status).toBe(403);

    app.reset();
    const ok = await get("/ratings/1", alice);
    expect(ok.status).toBe(200);
    expect(app.requests).toHaveLength(1);
    // DENY is evaluated before ALLOW: the allowed subject is still refused /admin.
    expect((await get("/admin", alice)).status).toBe(403);
    expect(app.requests).toHaveLength(1);
  });
});
