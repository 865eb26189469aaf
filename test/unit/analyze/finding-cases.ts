/**
 * One case per meaning of every finding code meshpilot emits: a config directory that fires it
 * and the closest one that does not. coverage.test.ts runs them and fails for a code in src/ that
 * has no case here, and for a case whose code src/ no longer emits.
 *
 * A case runs through `meshpilot analyze` (the file source, then analyze) unless `via` says
 * otherwise, with the reason: per-proxy findings are raised while one proxy's configuration is
 * built, so `meshpilot translate` (and `serve`'s /debug/diagnostics) report them, not the
 * proxy-less `analyze`; a few input failures can only be made through the module that reports them.
 */
import type { EventEmitter } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Diagnostic } from "../../../src/api/diagnostics.js";
import type { NodeLike } from "../../../src/model/proxy.js";
import { loadFile } from "../../../src/sources/file/loader.js";
import { FileSource } from "../../../src/sources/file/file-source.js";

/** A config directory: file name → YAML; a string is one file `config.yaml`. */
export type Files = string | Readonly<Record<string, string>>;

export type Via =
  { readonly translate: NodeLike; readonly reason: string } | { readonly module: (fire: boolean) => Promise<readonly Diagnostic[]>; readonly reason: string };

export interface FindingCase {
  readonly code: string;
  /** The meaning of the code this case shows. */
  readonly finding: string;
  readonly fires: Files;
  readonly nearMiss: Files;
  /** The object the finding is about (`Kind ns/name`), when the code has other meanings the near miss could raise. */
  readonly at?: string;
  readonly via?: Via;
}

const PER_PROXY = "raised while one proxy's configuration is built: reported by `meshpilot translate` and `serve`, not by the proxy-less `analyze`";

const sidecar = (labels: Record<string, string> = { app: "productpage" }): NodeLike => ({
  id: "sidecar~10.244.0.10~productpage-v1.default~default.svc.cluster.local",
  metadata: { LABELS: labels },
});
const router: NodeLike = {
  id: "router~10.244.0.20~ingress-1.istio-system~istio-system.svc.cluster.local",
  metadata: { LABELS: { istio: "ingressgateway" } },
};
const translate = (node: NodeLike = sidecar()): Via => ({ translate: node, reason: PER_PROXY });

/** reviews (one pod, a mesh member) and ratings, both HTTP on 9080 in `default`. */
export const BASE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-v1, namespace: default, labels: { app: reviews, version: v1, security.istio.io/tlsMode: istio } }
status: { podIP: 10.244.0.11 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: reviews-1, namespace: default, labels: { kubernetes.io/service-name: reviews } }
addressType: IPv4
ports: [{ name: http, port: 9080 }]
endpoints:
  - { addresses: [10.244.0.11], targetRef: { kind: Pod, name: reviews-v1, namespace: default } }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.0.21, selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
`;

const doc = (yaml: string): string => `${BASE}---\n${yaml}`;
const docs = (...yamls: string[]): string => `${BASE}---\n${yamls.join("\n---\n")}`;

const vs = (name: string, spec: string, ns = "default", ts = ""): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns}${ts ? `, creationTimestamp: "${ts}"` : ""} }
spec:
${spec}`;
const dr = (name: string, spec: string, ns = "default", ts = ""): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns}${ts ? `, creationTimestamp: "${ts}"` : ""} }
spec:
${spec}`;
const routeTo = (host: string, extra = ""): string => `  hosts: [reviews]
  http:
    - route: [{ destination: { host: ${host}${extra} } }]`;
const tlsRule = (tls: string): string => dr("reviews", `  host: reviews.default.svc.cluster.local\n  trafficPolicy: { tls: { ${tls} } }`);
const sidecarObj = (name: string, spec: string, ns = "default", ts = ""): string => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${ns}${ts ? `, creationTimestamp: "${ts}"` : ""} }
spec:
${spec}`;
const gateway = (name: string, servers: string, selector = "istio: ingressgateway"): string => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: istio-system }
spec:
  selector: { ${selector} }
  servers:
${servers}`;
const ingressPod = (labels = "istio: ingressgateway"): string => `apiVersion: v1
kind: Pod
metadata: { name: ingress-1, namespace: istio-system, labels: { ${labels} } }
status: { podIP: 10.244.0.20 }`;
const peerAuth = (name: string, spec: string, ns = "default", ts = ""): string => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${ns}${ts ? `, creationTimestamp: "${ts}"` : ""} }
spec: { ${spec} }`;
const serviceEntry = (name: string, spec: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
${spec}`;
const authz = (name: string, spec: string): string => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec:
${spec}`;

// A self-signed test certificate and its key (made for this repo's goldens; not a secret).
const CERT =
  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJMakNCMUFJVVJPTGp3SncrR01SaFJvdFZrWEc2cHFZOWQ0MHdDZ1lJS29aSXpqMEVBd0l3R1RFWE1CVUcKQTFVRUF3d09aMjlzWkdWdUlIUmxjM1FnUTBFd0lCY05Nall4TWpBME1UVXpOalEzV2hnUE1qRXlOakV4TVRBeApOVE0yTkRkYU1CZ3hGakFVQmdOVkJBTU1EV2R2YkdSbGJpQmpiR2xsYm5Rd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxCmhrak9QUU1CQndOQ0FBUXJRRzVFZ3ZkMTdPNWpoaEM3dWU4OTFLaU1CZGZXakxBdThXNkd2bklvY2ttSStUbmUKUmpueTN6c0dSdlBqMy9iTWhKdDNneFZNQ0pUZmZ6NDJiMEw1TUFvR0NDcUdTTTQ5QkFNQ0Ewa0FNRVlDSVFDUgpMcTlENzFHN3lJYWt0RE5LZ1loKzR6Qm9LV0RsWHdWSGtPdVlrbng5RHdJaEFJK0ZDWi8wWVg0TXErTWtpTmdTCjdIMHhmNmlOaE84bVpkZEp2MUswZU9JMgotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
const KEY =
  "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ2l6ZGZKcWFxQmtVR2xvbFcKaGtrNjBaQm5DbW5DdE9KNWlTK01QYzQ0MDJ5aFJBTkNBQVFyUUc1RWd2ZDE3TzVqaGhDN3VlODkxS2lNQmRmVwpqTEF1OFc2R3ZuSW9ja21JK1RuZVJqbnkzenNHUnZQajMvYk1oSnQzZ3hWTUNKVGZmejQyYjBMNQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==";
const secret = (name: string, ns: string, data: string): string => `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${ns} }
data: { ${data} }`;
const tlsSecret = (name: string, ns = "default", ca = false): string => secret(name, ns, `tls.crt: ${CERT}, tls.key: ${KEY}${ca ? `, ca.crt: ${CERT}` : ""}`);

const GATEWAY_CLASS = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: meshpilot }
spec: { controllerName: meshpilot.io/gateway-controller }`;
const k8sGateway = (listeners: string): string => `${GATEWAY_CLASS}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: default }
spec:
  gatewayClassName: meshpilot
  listeners:
${listeners}`;
const HTTP_LISTENER = "    - { name: http, port: 80, protocol: HTTP }";
const httpRoute = (spec: string): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
${spec}`;

/** A value nested `depth` maps deep, in flow style. */
const nested = (depth: number): string => "{ a: ".repeat(depth) + "1" + " }".repeat(depth);

const inputCases: FindingCase[] = [
  {
    code: "IST0106",
    finding: "an Istio object that fails Istio's validation",
    fires: doc(vs("reviews", `  hosts: [reviews]\n  http:\n    - timeout: 5\n      route: [{ destination: { host: reviews } }]`)),
    nearMiss: doc(vs("reviews", `  hosts: [reviews]\n  http:\n    - timeout: 5s\n      route: [{ destination: { host: reviews } }]`)),
  },
  {
    code: "MP0001",
    finding: "a file that is not valid YAML",
    fires: doc("apiVersion: v1\nkind: [Namespace"),
    nearMiss: doc("apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }"),
  },
  {
    code: "MP0002",
    finding: "a file that cannot be read",
    fires: "",
    nearMiss: "",
    via: {
      reason: "as root (the test runner) no permission makes a file in a config directory unreadable; the loader reports a failed read of a file that vanished",
      module: async (fire) => {
        const dir = mkdtempSync(join(tmpdir(), "mp-read-"));
        try {
          if (!fire) writeFileSync(join(dir, "config.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n");
          return (await loadFile(join(dir, "config.yaml"))).diagnostics;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    },
  },
  {
    code: "MP0003",
    finding: "a document that is not a Kubernetes object",
    fires: doc("- just\n- a list"),
    nearMiss: doc("apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }"),
  },
  {
    code: "MP0004",
    finding: "a kind meshpilot does not read",
    fires: doc("apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w, namespace: default }"),
    nearMiss: doc("apiVersion: v1\nkind: Namespace\nmetadata: { name: w }"),
  },
  {
    code: "MP0005",
    finding: "a kind meshpilot reads, under an apiVersion it does not",
    fires: doc(vs("reviews", routeTo("reviews")).replace("networking.istio.io/v1", "networking.istio.io/v2")),
    nearMiss: doc(vs("reviews", routeTo("reviews")).replace("networking.istio.io/v1", "networking.istio.io/v1beta1")),
  },
  {
    code: "MP0006",
    finding: "a Kubernetes object that fails validation",
    fires: doc("apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { ports: [{ name: http, port: 0 }] }"),
    nearMiss: doc("apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { ports: [{ name: http, port: 9080 }] }"),
  },
  {
    code: "MP0007",
    finding: "the same object defined twice",
    fires: doc("apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: shop }"),
    nearMiss: doc("apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: shop2 }"),
  },
  {
    code: "MP0008",
    finding: "a field Istio accepts and meshpilot ignores",
    fires: doc(
      vs("reviews", `  hosts: [reviews]\n  http:\n    - route: [{ destination: { host: reviews } }]\n      mirror: { host: ratings }\n      mirrorPercent: 50`),
    ),
    nearMiss: doc(
      vs(
        "reviews",
        `  hosts: [reviews]\n  http:\n    - route: [{ destination: { host: reviews } }]\n      mirror: { host: ratings }\n      mirrorPercentage: { value: 50 }`,
      ),
    ),
  },
  {
    code: "MP0009",
    finding: "the file watcher fails",
    fires: "",
    nearMiss: "",
    via: {
      reason:
        "`analyze` loads once without watching; a watch cannot be made to fail on demand (inotify errors come from the kernel), so the test raises an error on the file source's real watcher of the directory",
      module: async (fire) => {
        const dir = mkdtempSync(join(tmpdir(), "mp-watch-"));
        const source = new FileSource({ dir, watch: true, debounceMs: 1, onUpdate: () => undefined });
        try {
          await source.start();
          // The root directory's watcher: its failure stops watching altogether.
          if (fire) (source as unknown as { watchers: Map<string, EventEmitter> }).watchers.get(dir)!.emit("error", new Error("inotify watch limit reached"));
          await source.idle();
          return source.diagnostics();
        } finally {
          await source.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    },
  },
  {
    code: "MP0010",
    finding: "an object of a kind read but not translated",
    fires: doc("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: { name: f, namespace: default }\nspec: {}"),
    nearMiss: doc(sidecarObj("default", "  egress: [{ hosts: ['./*'] }]")),
  },
  {
    code: "MP0010",
    finding: "a part of a Sidecar not translated",
    at: "Sidecar default/default",
    fires: doc(
      sidecarObj(
        "default",
        "  ingress: [{ port: { number: 9443, protocol: HTTPS, name: https }, tls: { mode: SIMPLE, serverCertificate: /c, privateKey: /k } }]",
      ),
    ),
    nearMiss: doc(sidecarObj("default", "  ingress: [{ port: { number: 9443, protocol: HTTPS, name: https } }]")),
  },
  {
    code: "MP0011",
    finding: "an object nested deeper than any real one",
    fires: doc(`${vs("deep", routeTo("reviews"))}\n  x: ${nested(120)}`),
    nearMiss: doc(`${vs("deep", routeTo("reviews"))}\n  x: ${nested(20)}`),
  },
];

const routingCases: FindingCase[] = [
  {
    code: "IST0101",
    finding: "a route to a host that is no service",
    at: "VirtualService default/reviews",
    fires: doc(vs("reviews", routeTo("reviewz"))),
    nearMiss: doc(vs("reviews", routeTo("reviews"))),
  },
  {
    code: "IST0101",
    finding: "a route to a port the service does not have",
    at: "VirtualService default/reviews",
    fires: doc(vs("reviews", routeTo("reviews", ", port: { number: 9090 }"))),
    nearMiss: doc(vs("reviews", routeTo("reviews", ", port: { number: 9080 }"))),
  },
  {
    code: "IST0101",
    finding: "a route to a subset no DestinationRule defines",
    at: "VirtualService default/reviews",
    fires: docs(vs("reviews", routeTo("reviews", ", subset: v2")), dr("reviews", "  host: reviews\n  subsets: [{ name: v1, labels: { version: v1 } }]")),
    nearMiss: docs(vs("reviews", routeTo("reviews", ", subset: v1")), dr("reviews", "  host: reviews\n  subsets: [{ name: v1, labels: { version: v1 } }]")),
  },
  {
    code: "IST0101",
    finding: "a VirtualService bound to a Gateway that does not exist",
    at: "VirtualService default/web",
    fires: docs(
      ingressPod(),
      gateway("web", "    - { port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }"),
      vs("web", `  hosts: ['*']\n  gateways: [istio-system/nope]\n  http: [{ route: [{ destination: { host: reviews } }] }]`),
    ),
    nearMiss: docs(
      ingressPod(),
      gateway("web", "    - { port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }"),
      vs("web", `  hosts: ['*']\n  gateways: [istio-system/web]\n  http: [{ route: [{ destination: { host: reviews } }] }]`),
    ),
  },
  {
    code: "IST0101",
    finding: "a Gateway whose selector matches no pod (no proxy serves it)",
    at: "Gateway istio-system/web",
    fires: docs(ingressPod("istio: egressgateway"), gateway("web", "    - { port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }")),
    nearMiss: docs(
      ingressPod("istio: ingressgateway, app: istio-ingressgateway"),
      gateway("web", "    - { port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }"),
    ),
  },
  {
    code: "IST0109",
    finding: "two VirtualServices for one host (sidecars use the first)",
    fires: docs(vs("a", routeTo("reviews"), "default", "2026-01-01T00:00:00Z"), vs("b", routeTo("reviews"), "default", "2026-01-02T00:00:00Z")),
    nearMiss: docs(vs("a", routeTo("reviews")), vs("b", `  hosts: [ratings]\n  http: [{ route: [{ destination: { host: ratings } }] }]`)),
  },
  {
    code: "IST0130",
    finding: "a rule below a catch-all rule",
    fires: doc(
      vs(
        "reviews",
        `  hosts: [reviews]\n  http:\n    - route: [{ destination: { host: reviews } }]\n    - match: [{ uri: { prefix: /a } }]\n      route: [{ destination: { host: ratings } }]`,
      ),
    ),
    nearMiss: doc(
      vs(
        "reviews",
        `  hosts: [reviews]\n  http:\n    - match: [{ uri: { prefix: /a } }]\n      route: [{ destination: { host: ratings } }]\n    - route: [{ destination: { host: reviews } }]`,
      ),
    ),
  },
  {
    code: "IST0131",
    finding: "a match an earlier match already takes",
    fires: doc(
      vs(
        "reviews",
        `  hosts: [reviews]\n  http:\n    - match: [{ uri: { prefix: /a } }]\n      route: [{ destination: { host: reviews } }]\n    - match: [{ uri: { prefix: /a/b } }]\n      route: [{ destination: { host: ratings } }]`,
      ),
    ),
    nearMiss: doc(
      vs(
        "reviews",
        `  hosts: [reviews]\n  http:\n    - match: [{ uri: { prefix: /a/b } }]\n      route: [{ destination: { host: ratings } }]\n    - match: [{ uri: { prefix: /a } }]\n      route: [{ destination: { host: reviews } }]`,
      ),
    ),
  },
  {
    code: "MP0110",
    finding: "a delegate VirtualService that does not exist",
    fires: doc(vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: nope, namespace: default } }]`)),
    nearMiss: docs(
      vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: leaf, namespace: default } }]`),
      vs("leaf", `  http: [{ route: [{ destination: { host: reviews } }] }]`),
    ),
  },
  {
    code: "MP0111",
    finding: "a delegate not exported to the root's namespace",
    fires: docs(
      vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: leaf, namespace: team } }]`),
      vs("leaf", `  exportTo: ["."]\n  http: [{ route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]`, "team"),
    ),
    nearMiss: docs(
      vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: leaf, namespace: team } }]`),
      vs("leaf", `  exportTo: ["*"]\n  http: [{ route: [{ destination: { host: reviews.default.svc.cluster.local } }] }]`, "team"),
    ),
  },
  {
    code: "MP0112",
    finding: "a delegate rule outside the root rule's match",
    fires: docs(
      vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: leaf, namespace: default } }]`),
      vs("leaf", `  http: [{ match: [{ uri: { prefix: /other } }], route: [{ destination: { host: reviews } }] }]`),
    ),
    nearMiss: docs(
      vs("root", `  hosts: [reviews]\n  http: [{ match: [{ uri: { prefix: /r } }], delegate: { name: leaf, namespace: default } }]`),
      vs("leaf", `  http: [{ match: [{ uri: { prefix: /r/x } }], route: [{ destination: { host: reviews } }] }]`),
    ),
  },
];

const serviceCases: FindingCase[] = [
  {
    code: "IST0118",
    finding: "a Service port that names no protocol",
    fires: doc(
      "apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { clusterIP: 10.96.0.30, ports: [{ name: web, port: 9080 }] }",
    ),
    nearMiss: doc(
      "apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { clusterIP: 10.96.0.30, ports: [{ name: http-web, port: 9080 }] }",
    ),
  },
  {
    code: "MP0120",
    finding: "an ExternalName Service naming a host outside the mesh",
    fires: doc("apiVersion: v1\nkind: Service\nmetadata: { name: alias, namespace: default }\nspec: { type: ExternalName, externalName: reviews.example.com }"),
    nearMiss: doc(
      "apiVersion: v1\nkind: Service\nmetadata: { name: alias, namespace: default }\nspec: { type: ExternalName, externalName: reviews.default.svc.cluster.local }",
    ),
  },
  {
    code: "MP0124",
    finding: "a Service exportTo annotation entry that names no namespace",
    fires: doc(
      'apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default, annotations: { networking.istio.io/exportTo: "Shop_Namespace" } }\nspec: { clusterIP: 10.96.0.30, ports: [{ name: http, port: 9080 }] }',
    ),
    nearMiss: doc(
      'apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default, annotations: { networking.istio.io/exportTo: "shop" } }\nspec: { clusterIP: 10.96.0.30, ports: [{ name: http, port: 9080 }] }',
    ),
  },
  {
    code: "MP0201",
    finding: "an endpoint naming a Pod that is not known",
    fires: doc(
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: ratings-1, namespace: default, labels: { kubernetes.io/service-name: ratings } }\naddressType: IPv4\nports: [{ name: http, port: 9080 }]\nendpoints: [{ addresses: [10.244.0.12], targetRef: { kind: Pod, name: ratings-v1, namespace: default } }]",
    ),
    nearMiss: docs(
      "apiVersion: v1\nkind: Pod\nmetadata: { name: ratings-v1, namespace: default, labels: { app: ratings } }\nstatus: { podIP: 10.244.0.12 }",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: ratings-1, namespace: default, labels: { kubernetes.io/service-name: ratings } }\naddressType: IPv4\nports: [{ name: http, port: 9080 }]\nendpoints: [{ addresses: [10.244.0.12], targetRef: { kind: Pod, name: ratings-v1, namespace: default } }]",
    ),
  },
  {
    code: "MP0701",
    finding: "a ServiceEntry host that a Service already defines (the Service keeps it)",
    fires: doc(
      serviceEntry("shadow", "  hosts: [reviews.default.svc.cluster.local]\n  ports: [{ number: 9080, name: http, protocol: HTTP }]\n  resolution: DNS"),
    ),
    nearMiss: doc(serviceEntry("shadow", "  hosts: [reviews.example.com]\n  ports: [{ number: 9080, name: http, protocol: HTTP }]\n  resolution: DNS")),
  },
  {
    code: "MP0702",
    finding: "a ServiceEntry endpoint on a unix socket",
    fires: doc(
      serviceEntry(
        "local",
        "  hosts: [local.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: STATIC\n  endpoints: [{ address: unix:///var/run/app.sock }]",
      ),
    ),
    nearMiss: doc(
      serviceEntry(
        "local",
        "  hosts: [local.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: STATIC\n  endpoints: [{ address: 10.0.0.1 }]",
      ),
    ),
  },
  {
    code: "MP0703",
    finding: "a second TCP host without address on one port",
    via: translate(),
    fires: docs(
      serviceEntry("db-a", "  hosts: [a.example.com]\n  ports: [{ number: 5432, name: tcp, protocol: TCP }]\n  resolution: DNS"),
      serviceEntry("db-b", "  hosts: [b.example.com]\n  ports: [{ number: 5432, name: tcp, protocol: TCP }]\n  resolution: DNS"),
    ),
    nearMiss: docs(
      serviceEntry("db-a", "  hosts: [a.example.com]\n  ports: [{ number: 5432, name: tcp, protocol: TCP }]\n  resolution: DNS"),
      serviceEntry("db-b", "  hosts: [b.example.com]\n  addresses: [240.0.0.2]\n  ports: [{ number: 5432, name: tcp, protocol: TCP }]\n  resolution: DNS"),
    ),
  },
];

const policyCases: FindingCase[] = [
  {
    code: "IST0173",
    finding: "a subset whose labels select no endpoint",
    fires: doc(dr("reviews", "  host: reviews\n  subsets: [{ name: v2, labels: { version: v2 } }]")),
    nearMiss: doc(dr("reviews", "  host: reviews\n  subsets: [{ name: v1, labels: { version: v1 } }]")),
  },
  {
    code: "IST0174",
    finding: "a DestinationRule for an unknown host",
    fires: doc(dr("reviews", "  host: reviewz")),
    nearMiss: doc(dr("reviews", "  host: reviews")),
  },
  {
    code: "MP0406",
    finding: "a subset a DestinationRule merge drops",
    fires: docs(
      dr("a", "  host: reviews\n  subsets: [{ name: v1, labels: { version: v1 } }]", "default", "2026-01-01T00:00:00Z"),
      dr("b", "  host: reviews\n  subsets: [{ name: v1, labels: { app: reviews } }]", "default", "2026-01-02T00:00:00Z"),
    ),
    nearMiss: docs(
      dr("a", "  host: reviews\n  subsets: [{ name: v1, labels: { version: v1 } }]", "default", "2026-01-01T00:00:00Z"),
      dr("b", "  host: reviews\n  subsets: [{ name: all, labels: { app: reviews } }]", "default", "2026-01-02T00:00:00Z"),
    ),
  },
  {
    code: "IST0128",
    finding: "TLS origination without a CA",
    fires: doc(tlsRule("mode: SIMPLE")),
    nearMiss: doc(tlsRule("mode: SIMPLE, caCertificates: /etc/certs/ca.pem")),
  },
  {
    code: "IST0129",
    finding: "port-level TLS origination without a CA",
    fires: doc(dr("reviews", "  host: reviews\n  trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: SIMPLE } }] }")),
    nearMiss: doc(
      dr(
        "reviews",
        "  host: reviews\n  trafficPolicy: { portLevelSettings: [{ port: { number: 9080 }, tls: { mode: SIMPLE, caCertificates: /etc/certs/ca.pem } }] }",
      ),
    ),
  },
  {
    code: "MP0402",
    finding: "certificates on a mode that ignores them",
    fires: doc(tlsRule("mode: DISABLE, caCertificates: /etc/certs/ca.pem")),
    nearMiss: doc(tlsRule("mode: SIMPLE, caCertificates: /etc/certs/ca.pem")),
  },
  {
    code: "MP0403",
    finding: "a subset's TLS mode against the rule's mesh mTLS",
    fires: doc(
      dr(
        "reviews",
        "  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }\n  subsets: [{ name: v1, labels: { version: v1 }, trafficPolicy: { tls: { mode: DISABLE } } }]",
      ),
    ),
    nearMiss: doc(
      dr(
        "reviews",
        "  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }\n  subsets: [{ name: v1, labels: { version: v1 }, trafficPolicy: { tls: { mode: ISTIO_MUTUAL, sni: v1.reviews } } }]",
      ),
    ),
  },
  {
    code: "MP0404",
    finding: "two rules for one host with different TLS modes",
    fires: docs(
      dr("a", "  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }", "default", "2026-01-01T00:00:00Z"),
      dr("b", "  host: reviews\n  trafficPolicy: { tls: { mode: DISABLE } }", "default", "2026-01-02T00:00:00Z"),
    ),
    nearMiss: docs(
      dr("a", "  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }", "default", "2026-01-01T00:00:00Z"),
      dr("b", "  host: reviews\n  trafficPolicy: { tls: { mode: ISTIO_MUTUAL } }", "default", "2026-01-02T00:00:00Z"),
    ),
  },
  {
    code: "MP0405",
    finding: "a credentialName on a rule without workloadSelector (sidecars ignore it)",
    via: translate(),
    fires: docs(tlsSecret("client-cred"), tlsRule("mode: MUTUAL, credentialName: client-cred")),
    nearMiss: docs(
      tlsSecret("client-cred"),
      tlsRule("mode: MUTUAL, clientCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem, caCertificates: /etc/certs/ca.pem"),
    ),
  },
  {
    code: "MP0407",
    finding: "a credentialName naming no Secret",
    via: translate(),
    fires: docs(
      tlsSecret("cred", "default", true),
      dr(
        "reviews",
        "  host: reviews\n  workloadSelector: { matchLabels: { app: productpage } }\n  trafficPolicy: { tls: { mode: SIMPLE, credentialName: nope } }",
      ),
    ),
    nearMiss: docs(
      tlsSecret("cred", "default", true),
      dr(
        "reviews",
        "  host: reviews\n  workloadSelector: { matchLabels: { app: productpage } }\n  trafficPolicy: { tls: { mode: SIMPLE, credentialName: cred } }",
      ),
    ),
  },
  {
    code: "MP0408",
    finding: "a credentialName Secret without a CA certificate",
    via: translate(),
    fires: docs(
      tlsSecret("cred"),
      dr(
        "reviews",
        "  host: reviews\n  workloadSelector: { matchLabels: { app: productpage } }\n  trafficPolicy: { tls: { mode: SIMPLE, credentialName: cred } }",
      ),
    ),
    nearMiss: docs(
      tlsSecret("cred", "default", true),
      dr(
        "reviews",
        "  host: reviews\n  workloadSelector: { matchLabels: { app: productpage } }\n  trafficPolicy: { tls: { mode: SIMPLE, credentialName: cred } }",
      ),
    ),
  },
  {
    code: "MP0870",
    finding: "a PeerAuthentication Istio ignores (a second namespace-wide one)",
    fires: docs(
      peerAuth("a", "mtls: { mode: STRICT }", "default", "2026-01-01T00:00:00Z"),
      peerAuth("b", "mtls: { mode: PERMISSIVE }", "default", "2026-01-02T00:00:00Z"),
    ),
    nearMiss: docs(
      peerAuth("a", "mtls: { mode: STRICT }", "default", "2026-01-01T00:00:00Z"),
      peerAuth("b", "selector: { matchLabels: { app: reviews } }, mtls: { mode: PERMISSIVE }", "default", "2026-01-02T00:00:00Z"),
    ),
  },
  {
    code: "MP0871",
    finding: "tls DISABLE to workloads whose PeerAuthentication is STRICT",
    fires: docs(peerAuth("strict", "mtls: { mode: STRICT }"), tlsRule("mode: DISABLE")),
    nearMiss: docs(peerAuth("strict", "mtls: { mode: STRICT }"), tlsRule("mode: ISTIO_MUTUAL")),
  },
  {
    code: "MP0871",
    finding: "ISTIO_MUTUAL to workloads whose PeerAuthentication DISABLEs mTLS",
    fires: docs(peerAuth("plain", "mtls: { mode: DISABLE }"), tlsRule("mode: ISTIO_MUTUAL")),
    nearMiss: docs(peerAuth("plain", "mtls: { mode: DISABLE }"), tlsRule("mode: DISABLE")),
  },
];

const sidecarCases: FindingCase[] = [
  {
    code: "IST0110",
    finding: "two Sidecars selecting one pod",
    fires: docs(
      sidecarObj("a", "  workloadSelector: { labels: { app: reviews } }\n  egress: [{ hosts: ['./*'] }]", "default", "2026-01-01T00:00:00Z"),
      sidecarObj("b", "  workloadSelector: { labels: { version: v1 } }\n  egress: [{ hosts: ['./*'] }]", "default", "2026-01-02T00:00:00Z"),
    ),
    nearMiss: docs(
      sidecarObj("a", "  workloadSelector: { labels: { app: reviews } }\n  egress: [{ hosts: ['./*'] }]", "default", "2026-01-01T00:00:00Z"),
      sidecarObj("b", "  workloadSelector: { labels: { version: v2 } }\n  egress: [{ hosts: ['./*'] }]", "default", "2026-01-02T00:00:00Z"),
    ),
  },
  {
    code: "IST0111",
    finding: "two Sidecars without workloadSelector in one namespace",
    fires: docs(
      sidecarObj("a", "  egress: [{ hosts: ['./*'] }]", "default", "2026-01-01T00:00:00Z"),
      sidecarObj("b", "  egress: [{ hosts: ['./*'] }]", "default", "2026-01-02T00:00:00Z"),
    ),
    nearMiss: docs(
      sidecarObj("a", "  egress: [{ hosts: ['./*'] }]", "default", "2026-01-01T00:00:00Z"),
      sidecarObj("b", "  egress: [{ hosts: ['./*'] }]", "shop", "2026-01-02T00:00:00Z"),
    ),
  },
  {
    code: "MP0125",
    finding: "a Sidecar egress host written as a short name (it imports nothing)",
    fires: doc(sidecarObj("default", "  egress: [{ hosts: ['./ratings'] }]")),
    nearMiss: doc(sidecarObj("default", "  egress: [{ hosts: ['./ratings.default.svc.cluster.local'] }]")),
  },
  {
    code: "MP0126",
    finding: "a Sidecar egressProxy whose cluster the proxy does not have",
    via: translate(),
    fires: doc(sidecarObj("default", "  outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: { host: egress.example.com, port: { number: 443 } } }")),
    nearMiss: doc(
      sidecarObj("default", "  outboundTrafficPolicy: { mode: ALLOW_ANY, egressProxy: { host: ratings.default.svc.cluster.local, port: { number: 9080 } } }"),
    ),
  },
  {
    code: "MP0901",
    finding: "a Sidecar hiding a host a VirtualService its proxies use routes to",
    fires: docs(sidecarObj("default", "  egress: [{ hosts: ['./reviews.default.svc.cluster.local'] }]"), vs("reviews", routeTo("ratings"))),
    nearMiss: docs(
      sidecarObj("default", "  egress: [{ hosts: ['./reviews.default.svc.cluster.local', './ratings.default.svc.cluster.local'] }]"),
      vs("reviews", routeTo("ratings")),
    ),
  },
  {
    code: "MP0121",
    finding: "a named targetPort no container of the selected pods declares",
    via: translate(sidecar({ app: "details" })),
    fires: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { clusterIP: 10.96.0.30, selector: { app: details }, ports: [{ name: http, port: 9080, targetPort: web }] }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: productpage-v1, namespace: default, labels: { app: details } }\nspec: { containers: [{ name: app, image: x, ports: [{ name: api, containerPort: 8080 }] }] }\nstatus: { podIP: 10.244.0.10 }",
    ),
    nearMiss: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: details, namespace: default }\nspec: { clusterIP: 10.96.0.30, selector: { app: details }, ports: [{ name: http, port: 9080, targetPort: web }] }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: productpage-v1, namespace: default, labels: { app: details } }\nspec: { containers: [{ name: app, image: x, ports: [{ name: web, containerPort: 8080 }] }] }\nstatus: { podIP: 10.244.0.10 }",
    ),
  },
  {
    code: "MP0122",
    finding: "an ingress listener to be captured on a proxy that captures nothing",
    via: { translate: { ...sidecar(), metadata: { LABELS: { app: "productpage" }, INTERCEPTION_MODE: "NONE" } }, reason: PER_PROXY },
    fires: doc(
      sidecarObj("default", "  ingress: [{ port: { number: 9080, protocol: HTTP, name: http }, captureMode: IPTABLES, defaultEndpoint: 127.0.0.1:8080 }]"),
    ),
    nearMiss: doc(
      sidecarObj("default", "  ingress: [{ port: { number: 9080, protocol: HTTP, name: http }, captureMode: NONE, defaultEndpoint: 127.0.0.1:8080 }]"),
    ),
  },
  {
    code: "MP0123",
    finding: "a Sidecar ingress port bound where an outbound listener of the same name would be",
    via: translate(),
    fires: doc(
      sidecarObj("default", "  ingress: [{ port: { number: 9080, protocol: HTTP, name: http }, captureMode: NONE, defaultEndpoint: 127.0.0.1:8080 }]"),
    ),
    nearMiss: doc(
      sidecarObj("default", "  ingress: [{ port: { number: 9081, protocol: HTTP, name: http }, captureMode: NONE, defaultEndpoint: 127.0.0.1:8080 }]"),
    ),
  },
  {
    code: "MP0301",
    finding: "a TCP service port that cannot share a proxy's local socket",
    via: { translate: { ...sidecar(), metadata: { LABELS: { app: "productpage" }, INTERCEPTION_MODE: "NONE" } }, reason: PER_PROXY },
    fires: doc(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db, namespace: default }\nspec: { clusterIP: 10.96.0.40, ports: [{ name: tcp, port: 9080 }] }",
    ),
    nearMiss: doc(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db, namespace: default }\nspec: { clusterIP: 10.96.0.40, ports: [{ name: tcp, port: 5432 }] }",
    ),
  },
  {
    code: "MP0302",
    finding: "two headless Service ports asking for one pod listener",
    via: translate(),
    fires: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db-a, namespace: default }\nspec: { clusterIP: None, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }",
      "apiVersion: v1\nkind: Service\nmetadata: { name: db-b, namespace: default }\nspec: { clusterIP: None, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: db-0, namespace: default, labels: { app: db } }\nstatus: { podIP: 10.244.0.50 }",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: db-a-1, namespace: default, labels: { kubernetes.io/service-name: db-a } }\naddressType: IPv4\nports: [{ name: tcp, port: 5432 }]\nendpoints: [{ addresses: [10.244.0.50], targetRef: { kind: Pod, name: db-0, namespace: default } }]",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: db-b-1, namespace: default, labels: { kubernetes.io/service-name: db-b } }\naddressType: IPv4\nports: [{ name: tcp, port: 5432 }]\nendpoints: [{ addresses: [10.244.0.50], targetRef: { kind: Pod, name: db-0, namespace: default } }]",
    ),
    nearMiss: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db-a, namespace: default }\nspec: { clusterIP: None, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }",
      "apiVersion: v1\nkind: Service\nmetadata: { name: db-b, namespace: default }\nspec: { clusterIP: None, selector: { app: db }, ports: [{ name: tcp, port: 5433 }] }",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: db-0, namespace: default, labels: { app: db } }\nstatus: { podIP: 10.244.0.50 }",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: db-a-1, namespace: default, labels: { kubernetes.io/service-name: db-a } }\naddressType: IPv4\nports: [{ name: tcp, port: 5432 }]\nendpoints: [{ addresses: [10.244.0.50], targetRef: { kind: Pod, name: db-0, namespace: default } }]",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: db-b-1, namespace: default, labels: { kubernetes.io/service-name: db-b } }\naddressType: IPv4\nports: [{ name: tcp, port: 5433 }]\nendpoints: [{ addresses: [10.244.0.50], targetRef: { kind: Pod, name: db-0, namespace: default } }]",
    ),
  },
];

const HTTP80 = "    - { port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }";
const gatewayCases: FindingCase[] = [
  {
    code: "MP0501",
    finding: "a router no Gateway selects",
    via: translate(router),
    fires: doc(gateway("web", HTTP80, "istio: egressgateway")),
    nearMiss: doc(gateway("web", HTTP80)),
  },
  {
    code: "MP0502",
    finding: "a server that conflicts with an earlier one on its port",
    via: translate(router),
    fires: doc(gateway("web", `${HTTP80}\n    - { port: { number: 80, name: tcp, protocol: TCP }, hosts: ['*'] }`)),
    nearMiss: doc(gateway("web", `${HTTP80}\n    - { port: { number: 81, name: tcp, protocol: TCP }, hosts: ['*'] }`)),
  },
  {
    code: "MP0503",
    finding: "a server TLS mode meshpilot does not serve",
    via: translate(router),
    fires: doc(gateway("web", "    - { port: { number: 443, name: tls, protocol: TLS }, hosts: ['*'], tls: { mode: AUTO_PASSTHROUGH } }")),
    nearMiss: doc(gateway("web", "    - { port: { number: 443, name: tls, protocol: TLS }, hosts: ['*'], tls: { mode: PASSTHROUGH } }")),
  },
  {
    code: "MP0504",
    finding: "a server whose credential cannot be used",
    via: translate(router),
    fires: docs(
      tlsSecret("web-cred", "istio-system"),
      gateway("web", "    - { port: { number: 443, name: https, protocol: HTTPS }, hosts: ['*'], tls: { mode: SIMPLE, credentialName: nope } }"),
    ),
    nearMiss: docs(
      tlsSecret("web-cred", "istio-system"),
      gateway("web", "    - { port: { number: 443, name: https, protocol: HTTPS }, hosts: ['*'], tls: { mode: SIMPLE, credentialName: web-cred } }"),
    ),
  },
  {
    code: "MP0505",
    finding: "a TLS server that no bound VirtualService gives a route",
    via: translate(router),
    fires: docs(gateway("web", "    - { port: { number: 443, name: tls, protocol: TLS }, hosts: ['*'], tls: { mode: PASSTHROUGH } }")),
    nearMiss: docs(
      gateway("web", "    - { port: { number: 443, name: tls, protocol: TLS }, hosts: ['*'], tls: { mode: PASSTHROUGH } }"),
      vs(
        "web",
        `  hosts: [reviews.example.com]\n  gateways: [istio-system/web]\n  tls: [{ match: [{ sniHosts: [reviews.example.com] }], route: [{ destination: { host: reviews } }] }]`,
      ),
    ),
  },
];

const gatewayApiCases: FindingCase[] = [
  {
    code: "MP0801",
    finding: "a route whose parentRef names no Gateway",
    fires: docs(k8sGateway(HTTP_LISTENER), httpRoute("  parentRefs: [{ name: nope }]\n  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]")),
    nearMiss: docs(k8sGateway(HTTP_LISTENER), httpRoute("  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]")),
  },
  {
    code: "MP0802",
    finding: "a backendRef naming no Service",
    fires: docs(k8sGateway(HTTP_LISTENER), httpRoute("  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: nope, port: 9080 }] }]")),
    nearMiss: docs(k8sGateway(HTTP_LISTENER), httpRoute("  parentRefs: [{ name: edge }]\n  rules: [{ backendRefs: [{ name: ratings, port: 9080 }] }]")),
  },
  {
    code: "MP0803",
    finding: "two listeners on one port that cannot be told apart",
    fires: docs(k8sGateway(`${HTTP_LISTENER}\n    - { name: http2, port: 80, protocol: HTTP }`)),
    nearMiss: docs(k8sGateway(`${HTTP_LISTENER}\n    - { name: http2, port: 80, protocol: HTTP, hostname: b.example.com }`)),
  },
  {
    code: "MP0804",
    finding: "a listener certificateRef naming no Secret",
    fires: docs(tlsSecret("edge-cred"), k8sGateway("    - { name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: [{ name: nope }] } }")),
    nearMiss: docs(tlsSecret("edge-cred"), k8sGateway("    - { name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: [{ name: edge-cred }] } }")),
  },
  {
    code: "MP0805",
    finding: "a listener protocol meshpilot cannot serve",
    fires: docs(k8sGateway("    - { name: dns, port: 53, protocol: UDP }")),
    nearMiss: docs(k8sGateway("    - { name: dns, port: 53, protocol: TCP }")),
  },
  {
    code: "MP0806",
    finding: "a route filter meshpilot does not implement",
    fires: docs(
      k8sGateway(HTTP_LISTENER),
      httpRoute(
        "  parentRefs: [{ name: edge }]\n  rules: [{ filters: [{ type: CORS, cors: { allowOrigins: ['https://a.example.com'] } }], backendRefs: [{ name: reviews, port: 9080 }] }]",
      ),
    ),
    nearMiss: docs(
      k8sGateway(HTTP_LISTENER),
      httpRoute(
        "  parentRefs: [{ name: edge }]\n  rules: [{ filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-a, value: b }] } }], backendRefs: [{ name: reviews, port: 9080 }] }]",
      ),
    ),
  },
];

const securityCases: FindingCase[] = [
  {
    code: "MP0861",
    finding: "an AuthorizationPolicy with action CUSTOM",
    fires: doc(authz("ext", "  action: CUSTOM\n  provider: { name: opa }\n  rules: [{ to: [{ operation: { paths: [/admin] } }] }]")),
    nearMiss: doc(authz("ext", "  action: DENY\n  rules: [{ to: [{ operation: { paths: [/admin] } }] }]")),
  },
  {
    code: "MP0862",
    finding: "a policy with targetRef (gateways and waypoints only)",
    fires: doc(
      authz(
        "edge",
        "  targetRef: { group: gateway.networking.k8s.io, kind: Gateway, name: edge }\n  action: DENY\n  rules: [{ to: [{ operation: { paths: [/admin] } }] }]",
      ),
    ),
    nearMiss: doc(authz("edge", "  selector: { matchLabels: { app: reviews } }\n  action: DENY\n  rules: [{ to: [{ operation: { paths: [/admin] } }] }]")),
  },
  {
    code: "MP0863",
    finding: "an HTTP-only field in a rule for a workload with TCP ports",
    via: translate(sidecar({ app: "db" })),
    fires: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db, namespace: default }\nspec: { clusterIP: 10.96.0.40, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }",
      authz("db", "  selector: { matchLabels: { app: db } }\n  rules: [{ to: [{ operation: { methods: [GET] } }] }]"),
    ),
    nearMiss: docs(
      "apiVersion: v1\nkind: Service\nmetadata: { name: db, namespace: default }\nspec: { clusterIP: 10.96.0.40, selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }",
      authz("db", "  selector: { matchLabels: { app: db } }\n  rules: [{ to: [{ operation: { ports: ['5432'] } }] }]"),
    ),
  },
  {
    code: "MP0864",
    finding: "a jwksUri naming no registry service",
    via: translate(sidecar({ app: "reviews" })),
    fires: doc(
      "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: jwt, namespace: default }\nspec:\n  selector: { matchLabels: { app: reviews } }\n  jwtRules: [{ issuer: https://issuer.example.com, jwksUri: http://keys.example.com/jwks.json }]",
    ),
    nearMiss: docs(
      serviceEntry("keys", "  hosts: [keys.example.com]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: DNS"),
      "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: jwt, namespace: default }\nspec:\n  selector: { matchLabels: { app: reviews } }\n  jwtRules: [{ issuer: https://issuer.example.com, jwksUri: http://keys.example.com/jwks.json }]",
    ),
  },
  {
    code: "MP0865",
    finding: "a path template in an operation",
    via: translate(sidecar({ app: "reviews" })),
    fires: doc(authz("paths", "  selector: { matchLabels: { app: reviews } }\n  rules: [{ to: [{ operation: { paths: ['/api/{*}/items'] } }] }]")),
    nearMiss: doc(authz("paths", "  selector: { matchLabels: { app: reviews } }\n  rules: [{ to: [{ operation: { paths: ['/api/*'] } }] }]")),
  },
];

const telemetry = (name: string, spec: string): string =>
  `apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: { name: ${name}, namespace: default, creationTimestamp: "2026-01-0${name.length % 9}T00:00:00Z" }\nspec:\n${spec}`;

/** Telemetry access logging (model/telemetry.ts). */
const telemetryCases: FindingCase[] = [
  {
    code: "MP1101",
    finding: "a Telemetry naming a provider the mesh config does not define",
    fires: doc(telemetry("logs", "  accessLogging: [{ providers: [{ name: nope }] }]")),
    nearMiss: doc(telemetry("logs", "  accessLogging: [{ providers: [{ name: envoy }] }]")),
  },
  {
    code: "MP1102",
    finding: "a second namespace-wide Telemetry in one namespace (the older one wins)",
    fires: docs(telemetry("a", "  accessLogging: [{ providers: [{ name: envoy }] }]"), telemetry("bb", "  accessLogging: [{ disabled: true }]")),
    nearMiss: docs(
      telemetry("a", "  accessLogging: [{ providers: [{ name: envoy }] }]"),
      telemetry("bb", "  selector: { matchLabels: { app: reviews } }\n  accessLogging: [{ disabled: true }]"),
    ),
  },
  {
    code: "MP1102",
    finding: "a Telemetry filter in an entry that names no provider (Istio drops it)",
    fires: doc(telemetry("logs", "  accessLogging: [{ providers: [{ name: envoy }] }, { filter: { expression: 'response.code >= 500' } }]")),
    nearMiss: doc(telemetry("logs", "  accessLogging: [{ providers: [{ name: envoy }], filter: { expression: 'response.code >= 500' } }]")),
  },
  {
    code: "MP0010",
    finding: "a part of a Telemetry not translated (tracing)",
    at: "Telemetry default/logs",
    fires: doc(telemetry("logs", "  tracing: [{ randomSamplingPercentage: 10 }]\n  accessLogging: [{ providers: [{ name: envoy }] }]")),
    nearMiss: doc(telemetry("logs", "  accessLogging: [{ providers: [{ name: envoy }] }]")),
  },
];

export const FINDING_CASES: readonly FindingCase[] = [
  ...inputCases,
  ...routingCases,
  ...serviceCases,
  ...policyCases,
  ...sidecarCases,
  ...gatewayCases,
  ...gatewayApiCases,
  ...securityCases,
  ...telemetryCases,
];
