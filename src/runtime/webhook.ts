/**
 * The sidecar injection webhook of `meshpilot serve`: HTTPS, AdmissionReview v1 on `/inject`
 * (istiod's path; istiod listens on 15017 behind Service port 443). Around the pure injector it
 * does the I/O: the namespace's labels, the serving certificate (renewed before it expires) and
 * the MutatingWebhookConfiguration's caBundle, which it keeps equal to its CA as istiod does.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { readRequest, reviewPod } from "../inject/review.js";
import { DEFAULT_INJECTION_SETTINGS, type InjectionSettings } from "../inject/settings.js";
import { KubeClient } from "../sources/kube/client.js";
import { issueServingCert, sharedCa, type CertAuthority, type ServingCert } from "./webhook-certs.js";

export interface WebhookOptions {
  /** Listen address `host:port` (in a cluster `0.0.0.0:15017`). */
  readonly address: string;
  readonly settings?: Partial<InjectionSettings>;
  /** Without it: no namespace labels (the webhook's selectors decide), in-memory CA, no caBundle upkeep. */
  readonly kubeConfig?: KubeConfig;
  /** The MutatingWebhookConfiguration whose caBundle meshpilot keeps current. */
  readonly webhookConfigName?: string;
  /** Where the shared CA lives. */
  readonly caSecretNamespace: string;
  readonly caSecretName?: string;
  /** Names in the serving certificate: the Service's DNS names (and IPs for a url clientConfig). */
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** How often the caBundle is checked and the serving cert considered for renewal; default 30 s. */
  readonly resyncMs?: number;
  /** Validity of the serving certificate (default 30 days); renewed with a third left. */
  readonly servingCertDays?: number;
  /** Told the result of every answered review (metrics). */
  readonly onReview?: (result: "injected" | "skipped" | "refused") => void;
  readonly logger: Logger;
}

export interface RunningWebhook {
  readonly port: number;
  /** PEM of the CA that signs the serving certificate (= the caBundle). */
  readonly caPem: string;
  /** PEM of the serving certificate in use. */
  servingCertPem(): string;
  /** Checks the caBundle now (also done every resyncMs). */
  syncCaBundle(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;
const DAY_MS = 86_400_000;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error(`request body over ${MAX_BODY} bytes`));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  if (i <= 0) throw new Error(`webhook address "${address}" must be host:port`);
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(address.slice(i + 1)) };
}

export async function startWebhook(opts: WebhookOptions): Promise<RunningWebhook> {
  const log = opts.logger.child({ component: "inject" });
  const settings: InjectionSettings = { ...DEFAULT_INJECTION_SETTINGS, ...opts.settings };
  const client = opts.kubeConfig ? new KubeClient(opts.kubeConfig) : undefined;
  const configName = opts.webhookConfigName ?? "meshpilot-sidecar-injector";
  const certDays = opts.servingCertDays ?? 30;
  const ca: CertAuthority = await sharedCa(client, { namespace: opts.caSecretNamespace, name: opts.caSecretName ?? "meshpilot-webhook-ca" }, new Date(), log);
  let serving: ServingCert = await issueServingCert(ca, opts.dnsNames, opts.ipAddresses ?? [], new Date(), certDays);

  const namespaceLabels = async (ns: string): Promise<Record<string, string> | undefined> => {
    if (!client) return undefined;
    try {
      const r = await client.request("GET", `/api/v1/namespaces/${encodeURIComponent(ns)}`, undefined, { timeoutMs: 3000 });
      if (r.status === 200) return ((r.body as { metadata?: { labels?: Record<string, string> } }).metadata?.labels ?? {}) as Record<string, string>;
      log.warn({ namespace: ns, status: r.status }, "cannot read the pod's namespace; deciding on the webhook's selectors");
    } catch (err) {
      log.warn({ namespace: ns, err: (err as Error).message }, "cannot read the pod's namespace; deciding on the webhook's selectors");
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? "/", "https://webhook");
    if (url.pathname !== "/inject") return reply(404, { error: `no handler for ${url.pathname}; the injector serves POST /inject` });
    if (req.method !== "POST") return reply(405, { error: "POST an admission.k8s.io/v1 AdmissionReview" });
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      return reply(400, { error: `body is not JSON: ${(err as Error).message}` });
    }
    const request = readRequest(body);
    if (typeof request === "string") return reply(400, { error: request });
    const ns = request.namespace || request.object?.metadata?.namespace || "default";
    const outcome = reviewPod(request, await namespaceLabels(ns), settings);
    const meta = request.object?.metadata;
    const fields = { namespace: ns, pod: meta?.name || (meta?.generateName ? `${meta.generateName}*` : undefined), reason: outcome.reason };
    if (outcome.result === "refused") log.warn(fields, "sidecar injection refused");
    else log.info(fields, outcome.result === "injected" ? "sidecar injected" : "sidecar injection skipped");
    opts.onReview?.(outcome.result);
    reply(200, outcome.review);
  };

  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem, minVersion: "TLSv1.2" }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, "injection webhook failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "internal error" }));
    });
  });
  const { host, port } = splitAddress(opts.address);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const boundPort = (server.address() as { port: number }).port;

  const caBundle = Buffer.from(ca.certPem).toString("base64");
  let reportedMissing = false;
  const syncCaBundle = async (): Promise<void> => {
    if (!client) return;
    const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${configName}`;
    const got = await client.request("GET", path);
    if (got.status === 404) {
      if (!reportedMissing)
        log.warn({ webhookConfiguration: configName }, "MutatingWebhookConfiguration not found: no pod is sent for injection until it exists");
      reportedMissing = true;
      return;
    }
    if (got.status !== 200) throw new Error(`reading MutatingWebhookConfiguration ${configName}: HTTP ${got.status}`);
    reportedMissing = false;
    const mwc = got.body as { metadata: { resourceVersion: string }; webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] };
    const stale = (mwc.webhooks ?? []).map((w, i) => ({ w, i })).filter(({ w }) => w.clientConfig?.caBundle !== caBundle);
    if (stale.length === 0) return;
    // The resourceVersion test makes a concurrent edit (another replica, kubectl) fail this patch
    // instead of being overwritten; the next resync retries on the new version.
    const patch = [
      { op: "test", path: "/metadata/resourceVersion", value: mwc.metadata.resourceVersion },
      ...stale.map(({ i }) => ({ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle })),
    ];
    const r = await client.request("PATCH", path, patch, { contentType: "application/json-patch+json" });
    if (r.status === 200) log.info({ webhookConfiguration: configName, webhooks: stale.map(({ w }) => w.name) }, "caBundle updated");
    else if (r.status !== 409 && r.status !== 422)
      throw new Error(`patching MutatingWebhookConfiguration ${configName}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  };

  const renewIfDue = async (): Promise<void> => {
    // Renewed with a third of its validity left, as a certificate rotator would.
    if (Date.now() < serving.notAfter.getTime() - (certDays * DAY_MS) / 3) return;
    serving = await issueServingCert(ca, opts.dnsNames, opts.ipAddresses ?? [], new Date(), certDays);
    server.setSecureContext({ cert: serving.certPem, key: serving.keyPem, minVersion: "TLSv1.2" });
    log.info({ notAfter: serving.notAfter.toISOString() }, "webhook serving certificate renewed");
  };

  let stopped = false;
  const tick = (): void => {
    Promise.all([syncCaBundle(), renewIfDue()]).catch((err: unknown) => log.warn({ err: (err as Error).message }, "injection webhook upkeep failed; retrying"));
  };
  tick();
  const timer = setInterval(() => {
    if (!stopped) tick();
  }, opts.resyncMs ?? 30_000);
  log.info({ port: boundPort, webhookConfiguration: client ? configName : undefined }, "sidecar injection webhook listening on /inject");

  return {
    port: boundPort,
    caPem: ca.certPem,
    servingCertPem: () => serving.certPem,
    syncCaBundle,
    async stop() {
      stopped = true;
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
