// Section 1b: what a Sidecar resource saves. The bytes one proxy receives (encoded CDS, EDS, LDS,
// RDS) in the 1000-service mesh without a Sidecar, with a namespace-scoping one (`./*`: its own
// namespace, a quarter of the services) and with one that imports a single host. Bounded: three
// translations of one view.
import type { InputObject, StoredObject } from "../../src/api/objects.js";
import { parseObject } from "../../src/api/parse.js";
import { buildMesh } from "../../src/model/build.js";
import { parseProxy, proxyView } from "../../src/model/proxy.js";
import { selectedLabels } from "../../src/model/selected-labels.js";
import { translateProxy } from "../../src/translate/proxy.js";
import { benchNode, CLIENT_NAMESPACE, generateMesh, inputOf, serviceName } from "./mesh.js";
import { bytes, ratio, type Table } from "./report.js";
import { encodeAll, TYPES, typeBytes } from "./translation.js";

function sidecar(hosts: readonly string[]): StoredObject<InputObject> {
  const r = parseObject({
    value: { apiVersion: "networking.istio.io/v1", kind: "Sidecar", metadata: { name: "default", namespace: CLIENT_NAMESPACE }, spec: { egress: [{ hosts }] } },
  });
  if (r.status !== "valid") throw new Error("bench: the Sidecar is invalid");
  return r.stored;
}

export function runSidecarScope(services: number): Table {
  const base = generateMesh(services, "basic");
  const cases: { label: string; extra: StoredObject<InputObject>[] }[] = [
    { label: "no Sidecar", extra: [] },
    { label: "Sidecar egress ./* (own namespace)", extra: [sidecar(["./*"])] },
    { label: `Sidecar egress ./${serviceName(0)} (one host)`, extra: [sidecar([`./${serviceName(0)}.${CLIENT_NAMESPACE}.svc.cluster.local`])] },
  ];
  let unscoped = 0;
  const rows = cases.map(({ label, extra }, i) => {
    const mesh = buildMesh(inputOf({ ...base, objects: [...base.objects, ...extra] }));
    const parsed = parseProxy(benchNode(0));
    if ("error" in parsed) throw new Error(parsed.error);
    const view = proxyView(parsed.proxy, selectedLabels(mesh));
    const t = translateProxy(mesh, view);
    const snap = encodeAll(t);
    const perType = TYPES.map(({ t: url }) => typeBytes(snap, url));
    const total = perType.reduce((a, b) => a + b, 0);
    if (i === 0) unscoped = total;
    return [label, t.clusters.length, t.listeners.length, ...perType.map(bytes), bytes(total), ratio(unscoped / total)];
  });
  return {
    title: `1b. Bytes one proxy receives in the ${services}-service mesh, with and without a Sidecar (encoded resources)`,
    header: ["scope", "clusters", "listeners", ...TYPES.map((x) => x.short), "total", "unscoped / this"],
    rows,
    notes: [`The proxy is in ${CLIENT_NAMESPACE}, which holds a quarter of the services.`],
  };
}
