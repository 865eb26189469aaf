#!/usr/bin/env node
/** The `meshpilot` command line. Exceptions end here: every command prints a reason and exits non-zero. */
// Only what every command needs is imported here; each action imports its own modules when it
// runs, so `--help` and the offline commands never load gRPC, the Kubernetes client, the CA or
// the generated Envoy schemas (test/unit/cli/lazy-load.test.ts holds that line).
import { Argument, Command, CommanderError, Option } from "commander";
import { DEFAULT_INJECTION_SETTINGS } from "../inject/settings.js";
import { OUTBOUND_TRAFFIC_POLICY_MODES, type OutboundTrafficPolicyMode } from "../model/mesh-config.js";
import { ACCESS_LOG_ENCODINGS, type AccessLogEncoding } from "../model/access-log-config.js";
// Type only: the load generator itself is imported when its command runs.
import type { LoadgenCliOptions } from "../loadgen/cli.js";
import type { BootstrapCliOptions } from "./bootstrap.js";
import { PROXY_CONFIG_TYPES, RESOURCE_TYPES } from "./choices.js";

/** The mesh config settings `serve` and `translate` both take. */
const outboundTrafficPolicyOption = () =>
  new Option(
    "--outbound-traffic-policy <mode>",
    "meshConfig outboundTrafficPolicy.mode: where sidecars send traffic to hosts outside the registry (default ALLOW_ANY, or the mesh config's)",
  ).choices([...OUTBOUND_TRAFFIC_POLICY_MODES]);
const meshConfigOption = () =>
  new Option(
    "--mesh-config <file>",
    "Istio mesh config YAML (or the istio ConfigMap holding it under data.mesh); meshpilot honours outboundTrafficPolicy, rootNamespace, trustDomain, enableAutoMtls, accessLogFile/Encoding/Format, extensionProviders (envoyFileAccessLog) and defaultProviders.accessLogging",
  );
const accessLogOption = () =>
  new Option(
    "--access-log <path>",
    "meshConfig accessLogFile: every proxy writes Envoy access logs in Istio's format there (e.g. /dev/stdout) unless a Telemetry decides (default none, or the mesh config's)",
  );
const accessLogEncodingOption = () =>
  new Option("--access-log-encoding <encoding>", "meshConfig accessLogEncoding: TEXT or JSON (default TEXT, or the mesh config's)").choices([
    ...ACCESS_LOG_ENCODINGS,
  ]);
const rootNamespaceOption = () =>
  new Option(
    "--root-namespace <ns>",
    "meshConfig rootNamespace: where a Sidecar without workloadSelector is every namespace's default (default istio-system, or the mesh config's)",
  );

const program = new Command();
// Usage mistakes exit 2 (like meshpilot's own argument checks); `analyze` keeps 1 for "findings".
program.exitOverride();
program.name("meshpilot").description("An Envoy xDS control plane that reads Kubernetes and Istio networking config").version("0.1.0");

const collect = (v: string, prev: string[]): string[] => [...prev, v];
/** Repeated `--label k=v` → the proxy's LABELS metadata. */
const labelsOf = (kvs: readonly string[]): Record<string, string> =>
  Object.fromEntries(kvs.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
/** The mesh config from `--mesh-config`, `--outbound-traffic-policy`, `--root-namespace` and `--access-log[-encoding]`. */
const meshConfigOf = async (o: {
  meshConfig?: string;
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  rootNamespace?: string;
  accessLog?: string;
  accessLogEncoding?: AccessLogEncoding;
}) => ({
  ...(await import("../runtime/mesh-config-file.js")).loadMeshConfig(o.meshConfig, o.outboundTrafficPolicy),
  ...(o.rootNamespace ? { rootNamespace: o.rootNamespace } : {}),
  ...(o.accessLog ? { accessLogFile: o.accessLog } : {}),
  ...(o.accessLogEncoding ? { accessLogEncoding: o.accessLogEncoding } : {}),
});
/** What offlineProxyOptions gives a command's action. */
interface OfflineProxyFlags {
  interception: string;
  label: string[];
  locality?: string;
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  meshConfig?: string;
  rootNamespace?: string;
  accessLog?: string;
  accessLogEncoding?: AccessLogEncoding;
}
/** Options describing a proxy that is translated offline, and its mesh config; `when` says when they apply. */
const offlineProxyOptions = (cmd: Command, when = ""): Command =>
  cmd
    .addOption(new Option("--interception <mode>", `${when}the proxy's INTERCEPTION_MODE`).choices(["REDIRECT", "NONE"]).default("REDIRECT"))
    .option("--label <k=v>", `${when}a label of the proxy's pod (repeatable)`, collect, [])
    .option("--locality <region/zone/subzone>", `${when}the proxy's node.locality (locality load balancing is relative to it)`)
    .addOption(outboundTrafficPolicyOption())
    .addOption(meshConfigOption())
    .addOption(rootNamespaceOption())
    .addOption(accessLogOption())
    .addOption(accessLogEncodingOption());

program
  .command("serve")
  .description("serve xDS (ADS, SotW and delta) for the config in Kubernetes and/or a directory, watching both for changes")
  .option("--config-dir <dir>", "directory of Kubernetes/Istio YAML (multi-document, *.yaml|*.yml); adds to the cluster's config when Kubernetes is used too")
  .option("--kubernetes", "read from Kubernetes (implied by --kubeconfig, and the default when --config-dir is not given)")
  .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account)")
  .option("--watch-namespaces <a,b>", "watch only these namespaces (comma-separated; default: all)")
  .option(
    "--discovery-selectors <selector>",
    "label selector on namespaces, kubectl syntax (repeatable; a namespace is in scope when any matches), like meshConfig discoverySelectors",
    collect,
    [],
  )
  .option("--no-status", "do not write findings into the Istio objects' status (and do not campaign for the Lease)")
  .option("--lease-namespace <ns>", "namespace of the status leader Lease (default: $POD_NAMESPACE or the service account's namespace)")
  .option("--lease-duration-seconds <n>", "how long a silent status leader keeps the Lease", (v) => Number(v), 15)
  .option("--lease-retry-ms <n>", "how often the Lease is renewed or tried", (v) => Number(v), 2000)
  .option("--xds-address <host:port>", "ADS gRPC listen address", "0.0.0.0:15010")
  .option("--allow-plaintext-secrets", "DEVELOPMENT ONLY, INSECURE: also send Secrets (credentialName private keys) on the plaintext xDS port, to any client")
  .option(
    "--secure-xds-address <host:port>",
    "the secure port (TLS): Istio's CA service and authenticated ADS with workload certificates; default 0.0.0.0:15012 in a cluster",
  )
  .option("--no-secure-xds", "no mesh CA and no secure port")
  .option("--ca-dir <dir>", "the mesh CA from files in Istio's cacerts layout (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)")
  .option("--workload-cert-ttl <duration>", "lifetime of the workload certificates meshpilot mints for proxies on the secure port (Istio's 24h)")
  .option("--debug-address <host:port>", "debug HTTP address (/ready, /healthz, /metrics, /debug/syncz, /debug/config_dump, /debug/history)", "127.0.0.1:15014")
  .option("--history-size <n>", "pushes kept by /debug/history", (v) => Number(v), 100)
  .option("--inject-address <host:port>", "serve the sidecar injection webhook (HTTPS, /inject) here; default 0.0.0.0:15017 when running in a cluster")
  .option("--no-inject", "do not serve the sidecar injection webhook")
  .option(
    "--inject-service <name.namespace>",
    "the Service the webhook is reached through (serving certificate names, xDS address of injected proxies)",
    `meshpilot.${process.env["POD_NAMESPACE"] ?? "meshpilot-system"}`,
  )
  .option(
    "--inject-xds-address <host:port>",
    "meshpilot's ADS address as injected proxies reach it (default <service>.<namespace>.svc:15012 with the mesh CA, else :15010)",
  )
  .option("--proxy-image <ref>", "image of the injected Envoy sidecar", DEFAULT_INJECTION_SETTINGS.proxyImage)
  .option("--proxy-init-image <ref>", "image of the injected capture init container (sh + iptables)", DEFAULT_INJECTION_SETTINGS.captureImage)
  .addOption(outboundTrafficPolicyOption())
  .addOption(meshConfigOption())
  .addOption(rootNamespaceOption())
  .addOption(accessLogOption())
  .addOption(accessLogEncodingOption())
  .option("--log-level <level>", "trace|debug|info|warn|error", "info")
  .action(
    async (o: {
      outboundTrafficPolicy?: OutboundTrafficPolicyMode;
      meshConfig?: string;
      rootNamespace?: string;
      accessLog?: string;
      accessLogEncoding?: AccessLogEncoding;
      injectAddress?: string;
      inject: boolean;
      injectService: string;
      injectXdsAddress?: string;
      proxyImage: string;
      proxyInitImage: string;
      configDir?: string;
      kubernetes?: boolean;
      kubeconfig?: string;
      watchNamespaces?: string;
      discoverySelectors: string[];
      status: boolean;
      leaseNamespace?: string;
      leaseDurationSeconds: number;
      leaseRetryMs: number;
      xdsAddress: string;
      allowPlaintextSecrets?: boolean;
      historySize: number;
      secureXds: boolean;
      secureXdsAddress?: string;
      caDir?: string;
      workloadCertTtl?: string;
      debugAddress: string;
      logLevel: string;
    }) => {
      const [{ createLogger }, { identityOptions }, { injectOptions }, { startServer }] = await Promise.all([
        import("../log.js"),
        import("./identity-options.js"),
        import("./inject-options.js"),
        import("../runtime/serve.js"),
      ]);
      const logger = createLogger(o.logLevel);
      const useKube = o.kubernetes === true || o.kubeconfig !== undefined || o.configDir === undefined;
      const watchNamespaces = o.watchNamespaces
        ? o.watchNamespaces
            .split(",")
            .map((n) => n.trim())
            .filter((n) => n !== "")
        : undefined;
      if (!useKube && (watchNamespaces || o.discoverySelectors.length > 0))
        throw new Error("--watch-namespaces and --discovery-selectors need Kubernetes (--kubernetes or --kubeconfig)");
      if (o.discoverySelectors.length > 0) {
        const { parseSelector } = await import("../sources/kube/selectors.js");
        for (const sel of o.discoverySelectors) parseSelector(sel); // fail fast on a typo
      }
      const meshConfig = await meshConfigOf(o);
      const identity = identityOptions(o);
      const inject = injectOptions(o, useKube, identity !== undefined);
      // The handlers come first: a signal that arrives while the server starts (or right after it
      // logs that it is ready) still stops it cleanly, once it can be stopped.
      const running: { server?: Awaited<ReturnType<typeof startServer>>; pending?: string } = {};
      const shutdown = (signal: string) => {
        if (!running.server) return void (running.pending = signal);
        logger.info({ signal }, "shutting down");
        running.server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
      running.server = await startServer({
        ...(o.configDir !== undefined ? { configDir: o.configDir } : {}),
        xdsAddress: o.xdsAddress,
        debugAddress: o.debugAddress,
        logger,
        ...(o.allowPlaintextSecrets ? { allowPlaintextSecrets: true } : {}),
        historySize: o.historySize,
        ...(identity ? { identity } : {}),
        meshConfig,
        ...(inject ? { inject } : {}),
        ...(useKube
          ? {
              kube: {
                ...(o.kubeconfig ? { kubeconfigPath: o.kubeconfig } : {}),
                ...(watchNamespaces ? { watchNamespaces } : {}),
                discoverySelectors: o.discoverySelectors,
                writeStatus: o.status,
                ...(o.leaseNamespace ? { leaseNamespace: o.leaseNamespace } : {}),
                leaseDurationSeconds: o.leaseDurationSeconds,
                leaseRetryPeriodMs: o.leaseRetryMs,
              },
            }
          : {}),
      });
      if (running.pending !== undefined) shutdown(running.pending);
    },
  );

offlineProxyOptions(
  program
    .command("translate")
    .description("print the xDS resources one proxy would receive, offline")
    .requiredOption("--config-dir <dir>", "directory of Kubernetes/Istio YAML")
    .requiredOption("--proxy <node-id>", "node id, e.g. sidecar~10.0.0.5~productpage-v1.default~default.svc.cluster.local")
    .addOption(new Option("--type <type>", "only one resource type").choices([...RESOURCE_TYPES])),
)
  .option("--diff <other-dir>", "instead: what would change for the proxy, per resource, if the config in --config-dir became this directory's")
  .addOption(new Option("-o, --output <format>", "output format (default json; text with --diff)").choices(["json", "yaml", "text"]))
  .action(
    async (
      o: OfflineProxyFlags & {
        configDir: string;
        diff?: string;
        proxy: string;
        type?: string;
        output?: string;
      },
    ) => {
      const { translateCommand, translateDiffCommand } = await import("./translate.js");
      const labels = labelsOf(o.label);
      const common = {
        configDir: o.configDir,
        proxy: o.proxy,
        ...(o.type ? { type: o.type } : {}),
        metadata: { INTERCEPTION_MODE: o.interception, LABELS: labels },
        ...(o.locality ? { locality: o.locality } : {}),
        meshConfig: await meshConfigOf(o),
      };
      if (o.diff !== undefined) {
        const d = await translateDiffCommand({ ...common, otherDir: o.diff, output: o.output ?? "text" });
        if ("error" in d) throw new Error(d.error);
        process.stdout.write(d.output);
        return;
      }
      if (o.output === "text") throw new Error("-o text is for --diff; translate prints json or yaml");
      const r = await translateCommand({ ...common, output: o.output ?? "json" });
      if ("error" in r) throw new Error(r.error);
      const { formatDiagnostic } = await import("../api/diagnostics.js");
      for (const d of r.result.diagnostics) process.stderr.write(formatDiagnostic(d) + "\n");
      process.stdout.write(r.output);
    },
  );

program
  .command("analyze")
  .description("report mistakes in a config directory (missing subsets, unreachable rules, host mismatches, TLS conflicts, invalid objects)")
  .requiredOption("--config-dir <dir>", "directory of Kubernetes/Istio YAML")
  .addOption(meshConfigOption())
  .addOption(rootNamespaceOption())
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "yaml"]).default("text"))
  .action(async (o: { configDir: string; output: string; meshConfig?: string; rootNamespace?: string }) => {
    const [{ loadConfigDir }, { analyzeCommand }] = await Promise.all([import("../runtime/config-dir.js"), import("./analyze.js")]);
    const { objects, diagnostics } = await loadConfigDir(o.configDir);
    // The mesh config decides what some objects mean (the root namespace's Sidecar and policies, the trust domain).
    const r = analyzeCommand(objects, diagnostics, o.output, await meshConfigOf(o));
    process.stdout.write(r.output);
    process.exitCode = r.errors > 0 ? 1 : 0;
  });

offlineProxyOptions(
  program
    .command("explain")
    .description("follow one request through the Envoy config a proxy gets: listener, filter chain, virtual host, route, action, clusters, endpoints")
    .requiredOption("--proxy <id>", "node id (offline), or node id or pod.namespace of a proxy connected to --server")
    .requiredOption("--request <request>", "the request, as for curl: '[METHOD] URL [-H name:value]…', e.g. 'GET http://reviews:9080/ -H x-test-user:true'")
    .option("--config-dir <dir>", "explain offline, with the config translated from this directory")
    .option("--server <url>", "explain with what a running meshpilot sends the proxy (its debug address, e.g. http://127.0.0.1:15014)")
    .option("--destination-ip <ip>", "the address the application connects to (default: the service address the config lists for the host)")
    .option("--source-ip <ip>", "the application's address (default: the proxy's IP from its node id)")
    .option("--port <n>", "the port the connection arrives on, when not the URL's (a gateway's target port behind its Service port)", (v) => Number(v))
    .option("--http2", "plaintext HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1"),
  "with --config-dir: ",
)
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
  .action(
    async (
      o: OfflineProxyFlags & {
        proxy: string;
        request: string;
        configDir?: string;
        server?: string;
        destinationIp?: string;
        sourceIp?: string;
        port?: number;
        http2?: boolean;
        output: string;
      },
    ) => {
      const { explainCommand } = await import("./explain.js");
      const r = await explainCommand({
        ...o,
        metadata: { INTERCEPTION_MODE: o.interception, LABELS: labelsOf(o.label) },
        meshConfig: await meshConfigOf(o),
      });
      if ("error" in r) throw new Error(r.error);
      process.stdout.write(r.output);
    },
  );

program
  .command("proxy-status")
  .description("every proxy connected to a running meshpilot and, per xDS type, SYNCED / STALE (not acknowledged) / NACKED / NOT SENT")
  .requiredOption("--server <url>", "meshpilot's debug HTTP address (serve --debug-address), e.g. http://127.0.0.1:15014")
  .option("--proxy <id>", "show one proxy in detail (node id, or pod.namespace)")
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "yaml"]).default("text"))
  .action(async (o: { server: string; proxy?: string; output: string }) => {
    const { proxyStatusCommand } = await import("./proxy-status.js");
    process.stdout.write(await proxyStatusCommand(o));
  });

program
  .command("proxy-config")
  .description(
    "one proxy's clusters, listeners, routes, endpoints or secrets as tables: meshpilot's intent (--server or --config-dir) or a live Envoy's (--envoy-admin); --diff compares the two",
  )
  .addArgument(new Argument("<type>", "what to show").choices([...PROXY_CONFIG_TYPES]))
  .argument("[node-id]", "the proxy: node id, or pod.namespace with --server")
  .option("--server <url>", "a running meshpilot's debug HTTP address, e.g. http://127.0.0.1:15014")
  .option("--config-dir <dir>", "offline: meshpilot's intent from this directory of Kubernetes/Istio YAML")
  .option("--envoy-admin <host:port>", "a live Envoy's admin address: show what it holds (its /config_dump)")
  .option("--diff", "show where meshpilot's intent and the Envoy's held config differ, per resource (needs --envoy-admin)")
  .addOption(new Option("--interception <mode>", "with --config-dir: the proxy's INTERCEPTION_MODE").choices(["REDIRECT", "NONE"]).default("REDIRECT"))
  .option("--label <k=v>", "with --config-dir: a label of the proxy's pod (repeatable)", collect, [])
  .addOption(outboundTrafficPolicyOption())
  .addOption(meshConfigOption())
  .addOption(rootNamespaceOption())
  .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "yaml"]).default("text"))
  .action(
    async (
      type: string,
      nodeId: string | undefined,
      o: {
        server?: string;
        configDir?: string;
        envoyAdmin?: string;
        diff?: boolean;
        interception: string;
        label: string[];
        outboundTrafficPolicy?: OutboundTrafficPolicyMode;
        meshConfig?: string;
        rootNamespace?: string;
        output: string;
      },
    ) => {
      const { proxyConfigCommand } = await import("./proxy-config.js");
      const labels = labelsOf(o.label);
      const r = await proxyConfigCommand({
        type,
        ...(nodeId !== undefined ? { nodeId } : {}),
        ...(o.server !== undefined ? { server: o.server } : {}),
        ...(o.configDir !== undefined ? { configDir: o.configDir } : {}),
        ...(o.envoyAdmin !== undefined ? { envoyAdmin: o.envoyAdmin } : {}),
        diff: o.diff === true,
        output: o.output,
        metadata: { INTERCEPTION_MODE: o.interception, LABELS: labels },
        meshConfig: await meshConfigOf(o),
      });
      process.stderr.write(r.stderr);
      process.stdout.write(r.output);
    },
  );

program
  .command("bootstrap")
  .description("print an Envoy bootstrap (JSON) that connects a stock Envoy to meshpilot")
  .option("--node-id <id>", "Istio-form node id: sidecar~IP~pod.ns~ns.svc.cluster.local (or router~… for a gateway)")
  .addOption(
    new Option("--type <type>", "proxy type: sidecar, or router for an ingress/egress gateway (default: from --node-id)").choices(["sidecar", "router"]),
  )
  .option("--ip <ip>", "the pod IP (with --pod and --namespace, instead of --node-id; default $INSTANCE_IP or $POD_IP)")
  .option("--pod <name>", "the pod name (with --ip and --namespace, instead of --node-id; default $POD_NAME)")
  .requiredOption("--xds-address <host:port>", "meshpilot's ADS address")
  .requiredOption("--admin-address <host:port>", "Envoy admin address")
  .addOption(new Option("--interception <mode>", "INTERCEPTION_MODE (default: REDIRECT, NONE for a router)").choices(["NONE", "REDIRECT"]))
  .option("--namespace <ns>", "the proxy's namespace (default: from the node id, else $POD_NAMESPACE)")
  .option("--label <k=v>", "a label of the proxy's pod (repeatable)", collect, [])
  .option("--labels-file <file>", "the pod's labels from a downward-API volume file (fieldPath metadata.labels); --label wins over it")
  .option("--service-account <name>", "the pod's ServiceAccount, node metadata SERVICE_ACCOUNT (default $SERVICE_ACCOUNT)")
  .option("--cluster <name>", "Envoy node.cluster (default: <app>.<namespace>)")
  .option("--locality <region/zone/subzone>", "Envoy node.locality, for locality load balancing")
  .option("--sotw", "use state-of-the-world ADS instead of delta")
  .option("--secure", "connect to meshpilot's secure port (TLS, authenticated; --xds-address host:15012)")
  .option("--ca-cert <file>", "with --secure: the mesh root (PEM) meshpilot's certificate must chain to")
  .option(
    "--token-file <file>",
    "with --secure: a ServiceAccount token file (audience istio-ca); Envoy reads it on every connect and sends it as authorization: Bearer",
  )
  .option("--server-name <name>", "with --secure: the name in meshpilot's certificate (default: the host of --xds-address)")
  .option("--client-cert <dir>", "with --secure: obtain a certificate with the token (CreateCertificate), write it to DIR and use it instead of the token")
  .option("--health-port <port>", "serve readiness on 0.0.0.0:PORT/healthz/ready (Istio's 15021): 200 once Envoy has its first configuration", (v) => Number(v))
  .option("-o, --output <file>", "write the bootstrap to FILE (mode 0600) instead of stdout")
  .action(async (o: BootstrapCliOptions & { output?: string }) => {
    const { bootstrapCommand, writeBootstrap } = await import("./bootstrap.js");
    const r = await bootstrapCommand({ ...o, env: process.env });
    if ("error" in r) throw new Error(r.error);
    if (o.output !== undefined) writeBootstrap(o.output, r.output);
    else process.stdout.write(r.output);
  });

program
  .command("loadgen")
  .description(
    "load-test any xDS server (meshpilot, istiod): many Envoy-like sidecar streams (delta or SotW ADS; plaintext, or TLS with a bearer token or client certificate on a secure port; SDS as the config names it; delta resume with initial_resource_versions), a generated mesh in a config directory or a kube-apiserver, churned at a rate; reports convergence per change, bytes per type, what a resume re-sent, and the server's CPU and peak RSS",
  )
  .requiredOption("--target <host:port>", "the xDS server's ADS address: plaintext (istiod's 15010), or with --ca-cert its secure port (15012)")
  .option("--ca-cert <file>", "TLS: the mesh root (PEM) the server's certificate must chain to (the secure port, as istio-proxy reaches istiod's 15012)")
  .option(
    "--token-file <file>",
    "with --ca-cert: a ServiceAccount token (JWT, audience istio-ca) sent as authorization: Bearer on every stream, re-read on every connect; the proxies claim its namespace and service account",
  )
  .option(
    "--cert-chain <file>",
    "with --ca-cert and --key: a client certificate of the mesh (PEM) presented instead of a token; the proxies claim its SPIFFE identity",
  )
  .option("--key <file>", "the private key of --cert-chain (PEM)")
  .option("--server-name <name>", "with --ca-cert: the name the server's certificate must carry (default: the host of --target)")
  .option("--proxies <n>", "sidecar streams, each on its own connection", "100")
  .option("--protocol <p>", "delta or sotw ADS for --proxies", "delta")
  .option("--sotw-proxies <n>", "more streams on SotW ADS alongside (a mixed fleet)", "0")
  .option("--connect-rate <n>", "streams opened per second (default: all at once)")
  .option(
    "--labels <mode>",
    "pod labels of the proxies: identical, distinct, groups (of --groups Deployments) or workloads (pods of the mesh's services)",
    "identical",
  )
  .option("--groups <k>", "Deployments in the groups label mode", "10")
  .option("--envoy-version <v>", "the Envoy version the proxies claim as their user agent (meshpilot then sends delta streams VHDS), or none (default 1.40.0)")
  .option("--services <n>", "services of the generated mesh (10 endpoints, a VirtualService and a DestinationRule each)", "100")
  .option("--variant <v>", "basic, or full (retries, faults, mirrors, CORS, outlier detection, locality…)", "basic")
  .option("--config-dir <dir>", "write the mesh as YAML files into DIR (what `meshpilot serve --config-dir` watches)")
  .option("--kubeconfig <file>", "create the mesh through this kube-apiserver instead")
  .option("--churn-rate <r>", "changes per second after the full sync", "1")
  .option("--duration <s>", "seconds of churn (0: none)", "10")
  .option("--changes <n>", "at most this many changes")
  .option("--change-kinds <list>", "endpoint (a pod replaced at a new address), weight (a VirtualService split edited), comma-separated", "endpoint,weight")
  .option("--server-pid <pid>", "the server process to measure from /proc (default: the one listening on --target's port, when local)")
  .option("--sync-timeout <s>", "bound of the full sync", "300")
  .option("--change-timeout <s>", "bound of one change reaching every proxy", "30")
  .option("--ready-timeout <s>", "bound of the wait for the server to serve the generated mesh", "120")
  .option("--no-reconnect", "a failed stream fails its proxy instead of reconnecting")
  .option(
    "--no-resume",
    "delta proxies keep no versions and reconnect as new ones, without initial_resource_versions (saves ~100 bytes of client memory per resource held)",
  )
  .option(
    "--drop-streams",
    "after the churn, drop every stream at once: each proxy resumes, and the report counts per type what the server re-sent (and how much of it unchanged)",
  )
  .option("--keep", "leave the generated objects in place")
  .option("--json", "print the report as JSON")
  .action(async (o: LoadgenCliOptions) => {
    const { loadgenCommand } = await import("../loadgen/cli.js");
    const r = await loadgenCommand(o);
    // Streams and timers are closed; exit once the report is out rather than wait for grpc-js' channels to wind down.
    process.stdout.write(r.output, () => process.exit(r.complete ? 0 : 1));
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2); // commander printed the message
  process.stderr.write(`meshpilot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
