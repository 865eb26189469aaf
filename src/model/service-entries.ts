/**
 * ServiceEntries in the service registry, as Istio's serviceentry controller converts them: one
 * service per host, with the entry's ports, first non-CIDR address as VIP, resolution, location,
 * exportTo and subjectAltNames. Endpoints: STATIC entries get theirs from `endpoints` or from the
 * WorkloadEntries their `workloadSelector` picks (EDS); DNS and DNS_ROUND_ROBIN entries carry
 * them inline (`endpoints`, the selected WorkloadEntries, else the host itself), resolved by
 * Envoy; NONE has none (original destination). A Kubernetes Service keeps a host it shares with
 * an entry, as Istio prefers the Kubernetes registry.
 */
import type { Diagnostic, ObjectRef } from "../api/diagnostics.js";
import type { ServiceEntry, ServiceEntryPort, WorkloadEntry, WorkloadEntrySpec } from "../api/istio/service-entry-types.js";
import { istioProtocol } from "../api/istio/validate-service-entry.js";
import type { StoredObject } from "../api/objects.js";
import type { EndpointModel, Protocol, ServiceEntryModel, ServiceModel, ServicePortModel } from "./ir.js";
import { endpointKey } from "./ir.js";
import { portProtocol } from "./protocol.js";
import { workloadEndpoint } from "./workload-entries.js";

export type ServiceEntryObject = ServiceEntry;
export type WorkloadEntryObject = WorkloadEntry;

export const EntryCodes = {
  /** A ServiceEntry host that another registry entry already holds. */
  HostTaken: "MP0701",
  /** An endpoint meshpilot cannot send (a unix socket address). */
  EndpointLeftOut: "MP0702",
  /** A TCP port of a host without an address that another such host already holds on 0.0.0.0_<port>. */
  NoListener: "MP0703",
} as const;

const UNIX_PREFIX = "unix://";

export interface EntryRegistry {
  /** Services by host, sorted by host. */
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** STATIC entries' endpoints by `endpointKey(host, port)`. */
  readonly endpoints: ReadonlyMap<string, readonly EndpointModel[]>;
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * The hosts of `entries` that no Kubernetes Service holds, oldest entry first for a host two
 * entries name (Istio's conflict rule), with their endpoints.
 */
export function buildServiceEntries(
  entries: readonly StoredObject<ServiceEntryObject>[],
  workloads: readonly StoredObject<WorkloadEntryObject>[],
  kubeServices: ReadonlyMap<string, ServiceModel>,
): EntryRegistry {
  const services = new Map<string, ServiceModel>();
  const endpoints = new Map<string, readonly EndpointModel[]>();
  const diagnostics: Diagnostic[] = [];
  const sorted = [...entries].sort((a, b) => compareAge(a.object, b.object));
  for (const { object: se, source } of sorted) {
    const spec = se.spec;
    const namespace = se.metadata.namespace ?? "default";
    const ref: ObjectRef = { kind: "ServiceEntry", namespace, name: se.metadata.name };
    const report = (severity: Diagnostic["severity"], code: string, message: string, path: string): void => {
      diagnostics.push({ severity, code, message, object: ref, path, ...(source ? { source } : {}) });
    };
    const resolution = spec.resolution ?? "NONE";
    const ports = (spec.ports ?? []).map(entryPort).sort((a, b) => a.port - b.port);
    const address = (spec.addresses ?? []).find((a) => !a.includes("/") || a.endsWith("/32") || a.endsWith("/128"))?.replace(/\/(32|128)$/, "");
    const selected = spec.workloadSelector ? selectedWorkloads(workloads, namespace, spec.workloadSelector.labels ?? {}) : undefined;
    const inline = (spec.endpoints ?? []).map((ep, i) => ({ spec: ep, namespace, path: `spec.endpoints[${i}]` }));
    const members = selected ?? inline;
    for (const [hi, host] of (spec.hosts ?? []).entries()) {
      const holder = kubeServices.get(host) ?? services.get(host);
      if (holder) {
        report(
          "warning",
          EntryCodes.HostTaken,
          `host ${host} is already defined by ${holder.ref.kind} ${holder.ref.namespace}/${holder.ref.name}; this entry's definition of it is not used`,
          `spec.hosts[${hi}]`,
        );
        continue;
      }
      const model: ServiceEntryModel = {
        resolution,
        location: spec.location ?? "MESH_EXTERNAL",
        subjectAltNames: spec.subjectAltNames ?? [],
        ...(resolution === "DNS" || resolution === "DNS_ROUND_ROBIN" ? { dnsEndpoints: dnsEndpoints(host, ports, members, namespace) } : {}),
      };
      services.set(host, {
        hostname: host,
        name: host,
        namespace,
        ...(address ? { clusterIP: address } : {}),
        ports,
        ref,
        ...(spec.exportTo?.length ? { exportTo: spec.exportTo } : {}),
        entry: model,
      });
      if (resolution !== "STATIC") continue;
      for (const port of ports) {
        const list: EndpointModel[] = [];
        for (const m of members) {
          if (m.spec.address?.startsWith(UNIX_PREFIX)) {
            if (port === ports[0] && hi === 0)
              report("warning", EntryCodes.EndpointLeftOut, `unix socket endpoint ${m.spec.address} is not supported by meshpilot; it is left out`, m.path);
            continue;
          }
          const ep = workloadEndpoint(m.spec, m.namespace, port);
          if (ep) list.push(ep);
        }
        endpoints.set(endpointKey(host, port.port), list.sort(byAddress));
      }
    }
  }
  return { services: new Map([...services.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), endpoints, diagnostics };
}

/** A ServiceEntry port as a service port: the protocol as written (unset: Istio sniffs; meshpilot uses the name's prefix, else TCP). */
function entryPort(p: ServiceEntryPort): ServicePortModel {
  const named = p.protocol ? istioProtocol(p.protocol) : undefined;
  const protocol: Protocol = named ? (PROTOCOL_OF[named] ?? "TCP") : portFromName(p.name);
  return { ...(p.name ? { name: p.name } : {}), port: p.number, ...(p.targetPort ? { targetPort: p.targetPort } : {}), protocol };
}

const PROTOCOL_OF: Readonly<Record<string, Protocol>> = {
  TCP: "TCP",
  UDP: "UDP",
  GRPC: "GRPC",
  "GRPC-Web": "GRPC-Web",
  HTTP: "HTTP",
  HTTP_PROXY: "HTTP",
  HTTP2: "HTTP2",
  HTTPS: "HTTPS",
  TLS: "TLS",
  Mongo: "Mongo",
  Redis: "Redis",
  MySQL: "MySQL",
};

function portFromName(name: string | undefined): Protocol {
  const p = portProtocol({ ...(name ? { name } : {}) });
  return p === "Unsupported" ? "TCP" : p;
}

interface Member {
  readonly spec: WorkloadEntrySpec;
  readonly namespace: string;
  readonly path: string;
}

/** WorkloadEntries of `namespace` whose labels include every selector label. */
export function selectedWorkloads(
  workloads: readonly StoredObject<WorkloadEntryObject>[],
  namespace: string,
  selector: Readonly<Record<string, string>>,
): Member[] {
  const want = Object.entries(selector);
  return [...workloads]
    .filter(({ object: we }) => (we.metadata.namespace ?? "default") === namespace)
    .filter(({ object: we }) => want.every(([k, v]) => we.spec.labels?.[k] === v))
    .sort((a, b) => (a.object.metadata.name < b.object.metadata.name ? -1 : 1))
    .map(({ object: we }) => ({ spec: we.spec, namespace, path: `WorkloadEntry ${namespace}/${we.metadata.name}` }));
}

/** DNS endpoints per port: the given ones, else the host itself on the port (its targetPort when set). */
function dnsEndpoints(host: string, ports: readonly ServicePortModel[], members: readonly Member[], namespace: string): Map<number, EndpointModel[]> {
  const out = new Map<number, EndpointModel[]>();
  for (const port of ports) {
    const list = members.length
      ? members.flatMap((m) => {
          const ep = m.spec.address?.startsWith(UNIX_PREFIX) ? undefined : workloadEndpoint(m.spec, m.namespace, port);
          return ep ? [ep] : [];
        })
      : [{ address: host, port: typeof port.targetPort === "number" ? port.targetPort : port.port, labels: {}, namespace }];
    out.set(port.port, list);
  }
  return out;
}

const byAddress = (a: EndpointModel, b: EndpointModel): number => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port);

function compareAge(a: ServiceEntryObject, b: ServiceEntryObject): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const an = `${a.metadata.namespace ?? ""}/${a.metadata.name}`;
  const bn = `${b.metadata.namespace ?? ""}/${b.metadata.name}`;
  return an < bn ? -1 : an > bn ? 1 : 0;
}
