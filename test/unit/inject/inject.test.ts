import { describe, expect, it } from "vitest";
import { injectPod } from "../../../src/inject/inject.js";
import type { AdmittedPod } from "../../../src/inject/pod.js";
import { readRequest, reviewPod } from "../../../src/inject/review.js";
import { DEFAULT_INJECTION_SETTINGS, type InjectionSettings } from "../../../src/inject/settings.js";

const settings: InjectionSettings = {
  ...DEFAULT_INJECTION_SETTINGS,
  xdsAddress: "meshpilot.meshpilot-system.svc:15010",
  proxyImage: "localhost/envoy:t",
  captureImage: "localhost/capture:t",
};
const enabled = { "istio-injection": "enabled" };

const webPod = (): AdmittedPod => ({
  metadata: { generateName: "web-5d8f-", namespace: "shop", labels: { app: "web", version: "v1" } },
  spec: {
    containers: [
      {
        name: "web",
        image: "web:1",
        ports: [{ name: "http", containerPort: 8080 }],
        readinessProbe: { httpGet: { path: "/ready?deep=1", port: "http" }, periodSeconds: 2 },
        livenessProbe: { httpGet: { port: 8080, scheme: "HTTPS", httpHeaders: [{ name: "X-Probe", value: "1" }] } },
        startupProbe: { exec: { command: ["true"] } },
      },
    ],
  },
});

function patched(pod: AdmittedPod, ns = enabled) {
  const r = injectPod(pod, "shop", ns, settings);
  if (r.kind !== "patch") throw new Error(`expected a patch, got ${JSON.stringify(r)}`);
  return r;
}

describe("injectPod patch", () => {
  it("adds istio-init and the istio-proxy native sidecar, rewrites HTTP probes, marks the pod", () => {
    const r = patched(webPod());
    expect(r.patch.map((p) => `${p.op} ${p.path}`)).toEqual([
      "add /spec/initContainers",
      "replace /spec/containers/0/livenessProbe/httpGet",
      "replace /spec/containers/0/readinessProbe/httpGet",
      "add /metadata/annotations",
      "add /metadata/labels/security.istio.io~1tlsMode",
    ]);
    const [init, proxy] = r.patch[0]!.value as [Record<string, unknown>, Record<string, unknown>];
    expect(init).toMatchObject({
      name: "istio-init",
      image: "localhost/capture:t",
      imagePullPolicy: "IfNotPresent",
      securityContext: { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] } },
    });
    expect((init["command"] as string[]).slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect((init["command"] as string[])[2]).toContain("-A ISTIO_INBOUND -p tcp -m multiport --dports 15090,15021,15020 -j RETURN\n");
    expect(proxy).toMatchObject({
      name: "istio-proxy",
      image: "localhost/envoy:t",
      command: ["/usr/local/bin/envoy"],
      restartPolicy: "Always",
      startupProbe: { httpGet: { path: "/healthz/ready", port: 15021 }, periodSeconds: 1, failureThreshold: 600 },
      readinessProbe: { httpGet: { path: "/healthz/ready", port: 15021 } },
      securityContext: {
        runAsUser: 1337,
        runAsGroup: 1337,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      },
      env: [
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "INSTANCE_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "SERVICE_ACCOUNT", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
      ],
    });
    expect(r.patch[1]!.value).toEqual({ path: "/app-health/web/livez", port: 15020, scheme: "HTTP", httpHeaders: [{ name: "X-Probe", value: "1" }] });
    expect(r.patch[2]!.value).toEqual({ path: "/app-health/web/readyz", port: 15020, scheme: "HTTP" });
    expect(r.patch[3]!.value).toEqual({
      "sidecar.istio.io/status": '{"initContainers":["istio-init","istio-proxy"],"containers":[],"volumes":[],"imagePullSecrets":null,"revision":"default"}',
    });
    expect(r.patch[4]!.value).toBe("istio");
    expect(r.warnings).toEqual([]);
  });

  it("the bootstrap: node id and metadata from the downward API, labels, probe routes", () => {
    const proxy = (patched(webPod()).patch[0]!.value as Record<string, unknown>[])[1]!;
    const args = proxy["args"] as string[];
    expect(args[0]).toBe("--config-yaml");
    const b = JSON.parse(args[1]!) as {
      node: { id: string; cluster: string; metadata: Record<string, unknown> };
      staticResources: { clusters: { name: string; loadAssignment: unknown; transportSocket?: unknown }[]; listeners: unknown[] };
    };
    expect(b.node.id).toBe("sidecar~$(INSTANCE_IP)~$(POD_NAME).$(POD_NAMESPACE)~$(POD_NAMESPACE).svc.cluster.local");
    expect(b.node.cluster).toBe("web.shop");
    expect(b.node.metadata).toEqual({
      CLUSTER_ID: "Kubernetes",
      INSTANCE_IPS: "$(INSTANCE_IP)",
      INTERCEPTION_MODE: "REDIRECT",
      LABELS: { app: "web", version: "v1", "security.istio.io/tlsMode": "istio" },
      NAME: "$(POD_NAME)",
      NAMESPACE: "shop",
    });
    expect(b.staticResources.clusters.map((c) => c.name)).toEqual(["xds-grpc", "envoy-admin", "app-health|8080|tls", "app-health|8080"]);
    expect(b.staticResources.clusters[2]!.transportSocket).toEqual({
      name: "envoy.transport_sockets.tls",
      typedConfig: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" },
    });
    const routes = (listener: unknown) =>
      (listener as { filterChains: { filters: { typedConfig: { routeConfig: { virtualHosts: { routes: unknown[] }[] } } }[] }[] }).filterChains[0]!.filters[0]!
        .typedConfig.routeConfig.virtualHosts[0]!.routes;
    expect(routes(b.staticResources.listeners[0])).toEqual([{ match: { path: "/healthz/ready" }, route: { cluster: "envoy-admin", prefixRewrite: "/ready" } }]);
    expect(routes(b.staticResources.listeners[1])).toEqual([
      { match: { path: "/app-health/web/livez" }, route: { cluster: "app-health|8080|tls", prefixRewrite: "/" } },
      { match: { path: "/app-health/web/readyz" }, route: { cluster: "app-health|8080", prefixRewrite: "/ready?deep=1" } },
    ]);
  });

  it("on the secure port: the projected istio-ca token and the mesh root are mounted, and the bootstrap reads them", () => {
    const secure: InjectionSettings = {
      ...settings,
      xdsAddress: "meshpilot.meshpilot-system.svc:15012",
      secureXds: { serverName: "meshpilot.meshpilot-system.svc", tokenAudience: "istio-ca" },
    };
    const pod: AdmittedPod = { metadata: { name: "p" }, spec: { containers: [{ name: "a" }], volumes: [{ name: "data", emptyDir: {} }] } };
    const r = injectPod(pod, "shop", enabled, secure);
    if (r.kind !== "patch") throw new Error(JSON.stringify(r));
    const volumes = r.patch.filter((p) => p.path === "/spec/volumes/-").map((p) => p.value);
    expect(volumes).toEqual([
      {
        name: "istio-token",
        projected: { sources: [{ serviceAccountToken: { audience: "istio-ca", expirationSeconds: 43200, path: "istio-token" } }] },
      },
      { name: "istiod-ca-cert", configMap: { name: "istio-ca-root-cert" } },
    ]);
    const annotations = r.patch.find((p) => p.path === "/metadata/annotations")!.value as Record<string, string>;
    expect(JSON.parse(annotations["sidecar.istio.io/status"]!).volumes).toEqual(["istio-token", "istiod-ca-cert"]);
    const proxy = (r.patch[0]!.value as Record<string, unknown>[])[1]!;
    expect(proxy["volumeMounts"]).toEqual([
      { name: "istio-token", mountPath: "/var/run/secrets/tokens", readOnly: true },
      { name: "istiod-ca-cert", mountPath: "/var/run/secrets/istio", readOnly: true },
    ]);
    const b = JSON.parse((proxy["args"] as string[])[1]!) as {
      staticResources: { clusters: { name: string }[] };
      dynamicResources: { adsConfig: { grpcServices: { googleGrpc: Record<string, unknown> }[] } };
    };
    expect(b.staticResources.clusters.map((c) => c.name)).not.toContain("xds-grpc");
    const grpc = b.dynamicResources.adsConfig.grpcServices[0]!.googleGrpc;
    expect(grpc["targetUri"]).toBe("meshpilot.meshpilot-system.svc:15012");
    expect(grpc["channelCredentials"]).toEqual({ sslCredentials: { rootCerts: { filename: "/var/run/secrets/istio/root-cert.pem" } } });
    expect(JSON.stringify(grpc["callCredentials"])).toContain('"secretData":{"filename":"/var/run/secrets/tokens/istio-token"}');
    // Without the CA, nothing is mounted and the plaintext cluster stays.
    expect(patched(pod).patch.some((p) => p.path.startsWith("/spec/volumes"))).toBe(false);
    // A pod's own volume of a reserved name is refused.
    const clash = injectPod({ ...pod, spec: { ...pod.spec, volumes: [{ name: "istio-token" }] } }, "shop", enabled, secure);
    expect(clash).toMatchObject({ kind: "refuse", message: expect.stringContaining("volume name istio-token is reserved") });
  });

  it("existing init containers stay after the injected ones; existing labels and annotations are added to", () => {
    const pod: AdmittedPod = {
      metadata: { name: "p", labels: { app: "a" }, annotations: { note: "x" } },
      spec: { initContainers: [{ name: "migrate" }], containers: [{ name: "a" }] },
    };
    const ops = patched(pod).patch.map((p) => `${p.op} ${p.path}`);
    expect(ops).toEqual([
      "add /spec/initContainers/0",
      "add /spec/initContainers/1",
      "add /metadata/annotations/sidecar.istio.io~1status",
      "add /metadata/labels/security.istio.io~1tlsMode",
    ]);
  });

  it("rewriteAppHTTPProbers=false leaves probes alone; tcpSocket probes left as written are reported", () => {
    const pod = webPod();
    const off = patched({ ...pod, metadata: { ...pod.metadata, annotations: { "sidecar.istio.io/rewriteAppHTTPProbers": "false" } } });
    expect(off.patch.some((p) => p.path.includes("Probe"))).toBe(false);
    const tcp = patched({
      metadata: { name: "t", annotations: { "sidecar.istio.io/rewriteAppHTTPProbers": "false" } },
      spec: { containers: [{ name: "db", livenessProbe: { tcpSocket: { port: 5432 } } }] },
    });
    expect(tcp.patch.some((p) => p.path.includes("Probe"))).toBe(false);
    expect(tcp.warnings).toEqual(["container db livenessProbe: tcpSocket probe not rewritten (rewriteAppHTTPProbers false); captured, it tests the sidecar"]);
  });

  it("rewrites tcpSocket and grpc probes to /app-health/ paths answered by Envoy's health checks of the app's port", () => {
    const r = patched({
      metadata: { name: "t" },
      spec: {
        containers: [
          {
            name: "db",
            ports: [{ name: "pg", containerPort: 5432 }],
            livenessProbe: { tcpSocket: { port: "pg" }, periodSeconds: 5, timeoutSeconds: 3 },
            readinessProbe: { tcpSocket: { port: 5432 } },
          },
          { name: "api", readinessProbe: { grpc: { port: 9090, service: "ready" }, failureThreshold: 2 }, startupProbe: { grpc: { port: 9090 } } },
          { name: "other", livenessProbe: { tcpSocket: { host: "10.0.0.1", port: 80 } } },
        ],
      },
    });
    expect(r.warnings).toEqual([]);
    const replaced = r.patch.filter((p) => p.path.includes("Probe")).map((p) => [p.op, p.path, p.value]);
    expect(replaced).toEqual([
      [
        "replace",
        "/spec/containers/0/livenessProbe",
        { httpGet: { path: "/app-health/db/livez", port: 15020, scheme: "HTTP" }, periodSeconds: 5, timeoutSeconds: 3 },
      ],
      ["replace", "/spec/containers/0/readinessProbe", { httpGet: { path: "/app-health/db/readyz", port: 15020, scheme: "HTTP" } }],
      ["replace", "/spec/containers/1/readinessProbe", { httpGet: { path: "/app-health/api/readyz", port: 15020, scheme: "HTTP" }, failureThreshold: 2 }],
      ["replace", "/spec/containers/1/startupProbe", { httpGet: { path: "/app-health/api/startupz", port: 15020, scheme: "HTTP" } }],
    ]);
    const proxy = (r.patch[0]!.value as Record<string, unknown>[])[1]!;
    const b = JSON.parse((proxy["args"] as string[])[1]!) as {
      staticResources: { clusters: Record<string, unknown>[]; listeners: { filterChains: { filters: { typedConfig: Record<string, unknown> }[] }[] }[] };
    };
    const clusters = b.staticResources.clusters.filter((c) => String(c["name"]).startsWith("app-health"));
    expect(clusters.map((c) => c["name"])).toEqual(["app-health|5432|tcp", "app-health|9090|grpc|ready", "app-health|9090|grpc"]);
    expect(clusters[0]!["healthChecks"]).toEqual([
      {
        timeout: "3s",
        interval: "1s",
        noTrafficInterval: "1s",
        noTrafficHealthyInterval: "1s",
        unhealthyThreshold: 1,
        healthyThreshold: 1,
        tcpHealthCheck: {},
      },
    ]);
    expect((clusters[1]!["healthChecks"] as Record<string, unknown>[])[0]).toMatchObject({
      timeout: "1s",
      grpcHealthCheck: { serviceName: "ready", authority: "127.0.0.1:9090" },
    });
    expect((clusters[2]!["healthChecks"] as Record<string, unknown>[])[0]).toEqual(
      expect.objectContaining({ grpcHealthCheck: { authority: "127.0.0.1:9090" } }),
    );
    expect(clusters[2]!["typedExtensionProtocolOptions"]).toMatchObject({
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { explicitHttpConfig: { http2ProtocolOptions: {} } },
    });
    const hcm = b.staticResources.listeners[1]!.filterChains[0]!.filters[0]!.typedConfig as {
      httpFilters: { name: string; typedConfig: Record<string, unknown> }[];
    };
    expect(hcm.httpFilters.map((f) => f.name)).toEqual([...Array<string>(4).fill("envoy.filters.http.health_check"), "envoy.filters.http.router"]);
    expect(hcm.httpFilters[0]!.typedConfig).toMatchObject({
      passThroughMode: false,
      headers: [{ name: ":path", stringMatch: { exact: "/app-health/db/livez" } }],
      clusterMinHealthyPercentages: { "app-health|5432|tcp": { value: 100 } },
    });
  });

  it("Istio annotations meshpilot does not act on are reported as warnings", () => {
    const r = patched({
      metadata: { name: "p", annotations: { "sidecar.istio.io/proxyCPU": "1", "proxy.istio.io/config": "{}" } },
      spec: { containers: [{ name: "a" }] },
    });
    expect(r.warnings).toEqual([
      "annotation proxy.istio.io/config is not supported by meshpilot: no effect",
      "annotation sidecar.istio.io/proxyCPU is not supported by meshpilot: no effect",
    ]);
  });
});

describe("refusals", () => {
  const refuse = (annotations: Record<string, string>, extra: Partial<AdmittedPod["spec"]> = {}) => {
    const r = injectPod({ metadata: { name: "bad", annotations }, spec: { containers: [{ name: "a" }], ...extra } }, "shop", enabled, settings);
    if (r.kind !== "refuse") throw new Error(`expected a refusal, got ${r.kind}`);
    return r.message;
  };
  it("a bad CIDR names the pod, the annotation and the reason", () => {
    expect(refuse({ "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/40" })).toBe(
      'meshpilot cannot inject a sidecar into pod shop/bad: annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: "10.0.0.0/40" is not a CIDR range (like 10.0.0.0/8); expected a comma-separated list of CIDR ranges',
    );
  });
  it("interception modes other than REDIRECT, bad booleans and reserved container names", () => {
    expect(refuse({ "sidecar.istio.io/interceptionMode": "TPROXY" })).toContain('sidecar.istio.io/interceptionMode: "TPROXY" is not supported');
    expect(refuse({ "sidecar.istio.io/rewriteAppHTTPProbers": "maybe" })).toContain('"maybe" must be "true" or "false"');
    expect(refuse({}, { containers: [{ name: "istio-proxy" }] })).toContain("container name istio-proxy is reserved");
  });
  it("refusals are not made when the pod is not injected anyway", () => {
    const r = injectPod({ metadata: { name: "bad", annotations: { "traffic.sidecar.istio.io/includeInboundPorts": "x" } }, spec: {} }, "shop", {}, settings);
    expect(r.kind).toBe("skip");
  });
});

describe("AdmissionReview", () => {
  it("answers with the request's uid, a base64 JSONPatch, or a 400 with the message", () => {
    const req = readRequest({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "u1", kind: { group: "", version: "v1", kind: "Pod" }, namespace: "shop", operation: "CREATE", object: webPod() },
    });
    if (typeof req === "string") throw new Error(req);
    const ok = reviewPod(req, enabled, settings).review.response;
    expect(ok.uid).toBe("u1");
    expect(ok.patchType).toBe("JSONPatch");
    expect((JSON.parse(Buffer.from(ok.patch!, "base64").toString()) as { path: string }[])[0]!.path).toBe("/spec/initContainers");

    const bad = reviewPod(
      { ...req, object: { metadata: { name: "b", annotations: { "traffic.sidecar.istio.io/includeOutboundPorts": "1-2" } } } },
      enabled,
      settings,
    );
    expect(bad.review.response).toEqual({ uid: "u1", allowed: false, status: { code: 400, reason: "BadRequest", message: bad.reason } });
    expect(bad.reason).toContain('annotation traffic.sidecar.istio.io/includeOutboundPorts: "1-2" is not a port number');
  });
  it("rejects what is not an AdmissionReview v1", () => {
    expect(readRequest({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "x" } })).toContain(
      "expected an admission.k8s.io/v1 AdmissionReview",
    );
    expect(readRequest({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" })).toBe("AdmissionReview has no request.uid");
  });
});
