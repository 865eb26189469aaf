// v1 Secret as a credentialName source: what is kept, what is refused (naming object, field and
// reason, never a value), and that people-facing output never shows a private key.
import { describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../../src/api/diagnostics.js";
import { parseObject } from "../../../src/api/parse.js";
import { configDump } from "../../../src/debug/config-dump.js";
import { translateOffline } from "../../../src/pipeline/offline.js";
import { parseYamlFile } from "../../../src/sources/file/loader.js";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBfakecertificate\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIGHtopsecretkeymaterial\n-----END PRIVATE KEY-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");

function secret(body: Record<string, unknown>, name = "cred") {
  return parseObject({
    value: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: "app", annotations: { "kubectl.kubernetes.io/last-applied-configuration": KEY } },
      ...body,
    },
  });
}

describe("Secret validation", () => {
  it("keeps only the credential keys, folds stringData into data, and drops annotations", () => {
    const r = secret({ type: "kubernetes.io/tls", data: { "tls.crt": b64(CERT), "tls.key": b64(KEY), other: b64("x") }, stringData: { "ca.crt": CERT } });
    expect(r.status).toBe("valid");
    if (r.status !== "valid") return;
    expect(r.stored.object).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cred", namespace: "app" },
      type: "kubernetes.io/tls",
      data: { "ca.crt": b64(CERT), "tls.crt": b64(CERT), "tls.key": b64(KEY) },
    });
  });

  it("keeps a Secret that is no credential, without its data, and says nothing", () => {
    const r = secret({ type: "Opaque", data: { password: b64("hunter2"), key: b64("an API key") } });
    expect(r.status).toBe("valid");
    if (r.status !== "valid") return;
    expect(r.stored.object).toEqual({ apiVersion: "v1", kind: "Secret", metadata: { name: "cred", namespace: "app" }, type: "Opaque" });
    expect(r.diagnostics).toEqual([]);
  });

  it.each([
    ["a value that is not base64", { data: { cert: "not base64!", key: b64(KEY) } }, "data.cert", /not valid base64/],
    ["a value that is not a string", { data: { "tls.crt": 42, "tls.key": b64(KEY) } }, 'data["tls.crt"]', /expected a string, got number/],
    ["a certificate that is not PEM", { data: { "tls.crt": b64("garbage"), "tls.key": b64(KEY) } }, 'data["tls.crt"]', /tls\.crt is not a PEM certificate/],
    ["a key that is not PEM", { data: { cert: b64(CERT), key: b64("garbage") } }, "data.key", /key is not a PEM private key/],
    ["a certificate without its key", { data: { "tls.crt": b64(CERT) } }, 'data["tls.crt"]', /tls\.crt without tls\.key/],
    ["a key without its certificate", { data: { "ca.crt": b64(CERT), key: b64(KEY) } }, "data.key", /key without cert/],
    ["a CA that is not PEM, given as stringData", { stringData: { cacert: "garbage" } }, "stringData.cacert", /cacert is not a PEM certificate/],
    [
      "a kubernetes.io/tls Secret without tls.key",
      { type: "kubernetes.io/tls", data: { "tls.crt": b64(CERT), cert: b64(CERT), key: b64(KEY) } },
      "data",
      /needs tls\.crt and tls\.key/,
    ],
    ["data that is not a map", { data: ["x"] }, "data", /expected a map of strings, got a list/],
  ])("refuses %s, naming the object and field, never the value", (_label, body, path, reason) => {
    const r = secret(body);
    expect(r.status).toBe("invalid");
    const d = r.diagnostics.find((x) => x.path === path);
    expect(d, JSON.stringify(r.diagnostics)).toBeDefined();
    expect(d).toMatchObject({ severity: "error", code: "MP0006", object: { kind: "Secret", namespace: "app", name: "cred" } });
    expect(d!.message).toMatch(reason);
    for (const x of r.diagnostics) {
      const text = formatDiagnostic(x);
      for (const leak of ["topsecret", "MIGH", "garbage", "not base64!", b64(KEY).slice(0, 20)]) expect(text).not.toContain(leak);
    }
  });
});

describe("credentialName output for people", () => {
  const yaml = `apiVersion: v1
kind: Service
metadata: { name: api, namespace: default }
spec: { clusterIP: 10.96.0.9, ports: [{ name: http, port: 8443 }] }
---
apiVersion: v1
kind: Secret
metadata: { name: cred, namespace: default }
data: { tls.crt: ${b64(CERT)}, tls.key: ${b64(KEY)}, ca.crt: ${b64(CERT)} }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: default }
spec:
  host: api
  workloadSelector: { matchLabels: { app: client } }
  trafficPolicy: { tls: { mode: MUTUAL, credentialName: cred } }
`;
  const load = parseYamlFile("x.yaml", yaml);
  const objects = load.results.flatMap((r) => (r.status === "valid" ? [r.stored] : []));

  it("serves the key to Envoy, and the config dump shows it redacted", () => {
    const result = translateOffline(objects, [], {
      id: "sidecar~10.0.0.1~client-1.default~default.svc.cluster.local",
      metadata: { LABELS: { app: "client" } },
    });
    if ("error" in result) throw new Error(result.error);
    expect(result.resources.secrets.map((s) => s.name)).toEqual(["kubernetes://cred", "kubernetes://cred-cacert"]);
    expect(result.resources.secrets[0]!.tlsCertificate?.privateKey).toEqual({ inlineBytes: b64(KEY) });
    const dump = JSON.stringify(configDump(result.resources, {}, true));
    expect(dump).toContain("[redacted]");
    expect(dump).toContain("kubernetes://cred");
    expect(dump).not.toContain(b64(KEY));
    expect(dump).not.toContain("topsecret");
  });

  it("a proxy the rule does not select gets no Secret (the rule does not apply to it)", () => {
    const result = translateOffline(objects, [], { id: "sidecar~10.0.0.2~other-1.default~default.svc.cluster.local", metadata: { LABELS: { app: "other" } } });
    if ("error" in result) throw new Error(result.error);
    expect(result.resources.secrets).toEqual([]);
  });
});
