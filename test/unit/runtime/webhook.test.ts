/**
 * The webhook server on loopback without Kubernetes: TLS verified against the CA it reports (the
 * caBundle), AdmissionReview in and out, bad requests answered with reasons, and the serving
 * certificate renewed in place before it expires.
 */
import https from "node:https";
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startWebhook, type RunningWebhook } from "../../../src/runtime/webhook.js";
import { until } from "../../support/wait.js";

const running: RunningWebhook[] = [];
afterEach(async () => {
  for (const w of running.splice(0)) await w.stop();
});

async function start(extra: { servingCertDays?: number; resyncMs?: number } = {}): Promise<RunningWebhook> {
  const w = await startWebhook({
    address: "127.0.0.1:0",
    caSecretNamespace: "x",
    dnsNames: ["meshpilot.meshpilot-system.svc"],
    ipAddresses: ["127.0.0.1"],
    logger: pino({ level: "silent" }),
    ...extra,
  });
  running.push(w);
  return w;
}

function post(
  w: RunningWebhook,
  path: string,
  body: string,
  servername = "meshpilot.meshpilot-system.svc",
): Promise<{ status: number; body: string; cert: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port: w.port, path, method: "POST", ca: w.caPem, servername, agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        const cert = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? "";
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), cert }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const review = (object: unknown) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid: "abc", kind: { group: "", version: "v1", kind: "Pod" }, namespace: "shop", operation: "CREATE", object },
  });

describe("injection webhook server", () => {
  it("serves /inject over TLS that the reported CA verifies, for the Service's DNS name", async () => {
    const w = await start();
    const r = await post(
      w,
      "/inject",
      review({ metadata: { name: "p", labels: { "sidecar.istio.io/inject": "true" } }, spec: { containers: [{ name: "a" }] } }),
    );
    expect(r.status).toBe(200);
    const out = JSON.parse(r.body) as { apiVersion: string; kind: string; response: { uid: string; allowed: boolean; patchType: string; patch: string } };
    expect(out).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "abc", allowed: true, patchType: "JSONPatch" } });
    const cert = new X509Certificate(w.servingCertPem());
    expect(cert.subjectAltName).toBe("DNS:meshpilot.meshpilot-system.svc, IP Address:127.0.0.1");
    expect(cert.verify(new X509Certificate(w.caPem).publicKey)).toBe(true);
    await expect(post(w, "/inject", review({}), "other.example")).rejects.toThrow(/altnames|Hostname/i);
  });

  it("answers what is not an AdmissionReview, or not /inject, with the reason", async () => {
    const w = await start();
    expect(await post(w, "/inject", "{nope")).toMatchObject({ status: 400 });
    const v1beta1 = await post(w, "/inject", JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "x" } }));
    expect(v1beta1.status).toBe(400);
    expect(v1beta1.body).toContain("expected an admission.k8s.io/v1 AdmissionReview");
    expect((await post(w, "/validate", "{}")).status).toBe(404);
  });

  it("renews its serving certificate before it expires, without a restart", async () => {
    // About 3.5 s of validity: renewed once a third is left.
    const w = await start({ servingCertDays: 0.00004, resyncMs: 100 });
    const first = (await post(w, "/inject", review({}))).cert;
    expect(first).toMatch(/^[0-9A-F]+$/);
    await until(async () => (await post(w, "/inject", review({}))).cert !== first, "a renewed serving certificate", 15_000);
    // Another renewal may fall between reading the current certificate and the request: the
    // connection must present the one current before or the one current after it.
    const before = new X509Certificate(w.servingCertPem()).serialNumber;
    const served = (await post(w, "/inject", review({}))).cert;
    const renewed = new X509Certificate(w.servingCertPem());
    expect([before, renewed.serialNumber]).toContain(served);
    expect(renewed.verify(new X509Certificate(w.caPem).publicKey)).toBe(true);
  });
});
