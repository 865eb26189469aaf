/**
 * The HTTP transport to the Kubernetes API: `@kubernetes/client-node`'s KubeConfig resolves the
 * cluster, credentials and TLS (kubeconfig file or in-cluster service account, token files
 * re-read on every request); requests and watch streams go through node:https with the agent it
 * configures, so objects stay plain JSON exactly as the API server sent them (the generated
 * typed clients would turn timestamps into Date objects and drop unknown fields).
 */
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface WatchHandle {
  /** Resolves when the stream ends (server timeout, abort, connection loss); rejects on a non-200 answer. */
  readonly done: Promise<void>;
  abort(): void;
}

/** Loads a KubeConfig: an explicit file, else $KUBECONFIG/~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster configured (use --kubeconfig, $KUBECONFIG, or run in a pod)");
  return kc;
}

/** A whole response body: parsed JSON, the raw text when it is not JSON, undefined when empty. */
function readBody(res: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("error", reject);
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(text); // not JSON (a proxy's or webhook's error page): keep the text
      }
    });
  });
}

export class KubeClient {
  readonly server: string;

  constructor(readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("KubeConfig has no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
  }

  private async options(method: string, headers: Record<string, string>): Promise<https.RequestOptions> {
    const opts: https.RequestOptions & { headers: Record<string, string> } = { method, headers: { accept: "application/json", ...headers } };
    await this.config.applyToHTTPSOptions(opts);
    const agent = this.keepAliveAgent(opts);
    return agent ? { ...opts, agent } : opts;
  }

  private shared: { readonly fingerprint: string; readonly agent: https.Agent } | undefined;

  /**
   * client-node makes a new Agent per request, which means a TLS handshake per status write.
   * Credentials are re-read on every request (token files rotate), so one keep-alive agent is
   * reused only while the TLS material it was built from stays the same. Proxied clusters keep
   * client-node's own agent.
   */
  private keepAliveAgent(opts: https.RequestOptions): https.Agent | undefined {
    if (!this.server.startsWith("https:") || this.config.getCurrentCluster()?.proxyUrl) return undefined;
    const tls = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      pfx: opts.pfx,
      passphrase: opts.passphrase,
      rejectUnauthorized: opts.rejectUnauthorized,
      servername: opts.servername,
    };
    const fingerprint = createHash("sha256").update(JSON.stringify(tls)).digest("hex");
    if (this.shared?.fingerprint !== fingerprint) {
      this.shared?.agent.destroy();
      const defined = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
      // Idle sockets close after 15 s, so a pooled socket that went silent (a dropped NAT entry, a
      // restarted API server) is rarely the one a relist or status write picks up.
      this.shared = { fingerprint, agent: new https.Agent({ ...defined, keepAlive: true, timeout: 15_000 }) };
    }
    return this.shared.agent;
  }

  private transport(): typeof https | typeof http {
    return this.server.startsWith("https:") ? https : http;
  }

  /** One request; the body is parsed JSON (or the raw text when it is not JSON). */
  async request(method: string, path: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
    const options = await this.options(method, headers);
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = this.transport().request(this.server + path, options, (res) => {
        readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
      });
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** A request that must succeed (2xx); throws KubeApiError otherwise. */
  async call(method: string, path: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<unknown> {
    const res = await this.request(method, path, body, opts);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw apiError(method, path, res);
  }

  /**
   * A watch stream: calls `onOpen` once the server answered 200, then `onEvent` with each decoded
   * event line. `done` resolves when the stream ends and rejects with KubeApiError on a non-200 answer.
   */
  async watch(path: string, onEvent: (event: { type: string; object: Record<string, unknown> }) => void, onOpen?: () => void): Promise<WatchHandle> {
    const options = await this.options("GET", {});
    let req: http.ClientRequest | undefined;
    let aborted = false;
    const done = new Promise<void>((resolve, reject) => {
      req = this.transport().request(this.server + path, options, (res) => {
        if (res.statusCode !== 200) {
          readBody(res).then((body) => reject(apiError("WATCH", path, { status: res.statusCode ?? 0, body })), reject);
          return;
        }
        onOpen?.();
        let buf = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            let ev: unknown;
            try {
              ev = JSON.parse(line);
            } catch {
              continue;
            }
            if (ev && typeof ev === "object" && typeof (ev as { type?: unknown }).type === "string")
              onEvent(ev as { type: string; object: Record<string, unknown> });
          }
        });
        res.on("end", () => resolve());
        res.on("close", () => resolve());
        res.on("error", (e) => (aborted ? resolve() : reject(e)));
      });
      req.on("error", (e) => (aborted ? resolve() : reject(e)));
      req.end();
    });
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }
}

export function apiError(method: string, path: string, res: KubeResponse): KubeApiError {
  const b = res.body as { reason?: string; message?: string } | undefined;
  const reason = (b && typeof b === "object" && b.reason) || "";
  const msg = (b && typeof b === "object" && b.message) || (typeof res.body === "string" ? res.body.slice(0, 300) : "");
  return new KubeApiError(res.status, reason, `${method} ${path}: HTTP ${res.status}${reason ? ` ${reason}` : ""}${msg ? `: ${msg}` : ""}`);
}
