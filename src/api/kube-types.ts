/** The subset of Kubernetes objects meshpilot reads. Field names follow the Kubernetes API. */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly creationTimestamp?: string;
  readonly resourceVersion?: string;
  readonly uid?: string;
  readonly generation?: number;
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  /** A number, or the name of a container port. */
  readonly targetPort?: number | string;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly appProtocol?: string;
}

export interface Service {
  readonly apiVersion: "v1";
  readonly kind: "Service";
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly selector?: Readonly<Record<string, string>>;
    readonly ports?: readonly ServicePort[];
    readonly externalName?: string;
  };
}

export interface EndpointPort {
  readonly name?: string;
  readonly port?: number;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
  readonly appProtocol?: string;
}

export interface Endpoint {
  readonly addresses: readonly string[];
  readonly conditions?: { readonly ready?: boolean; readonly serving?: boolean; readonly terminating?: boolean };
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: { readonly kind?: string; readonly name?: string; readonly namespace?: string; readonly uid?: string };
}

export interface EndpointSlice {
  readonly apiVersion: "discovery.k8s.io/v1";
  readonly kind: "EndpointSlice";
  readonly metadata: ObjectMeta;
  readonly addressType: "IPv4" | "IPv6" | "FQDN";
  readonly endpoints?: readonly Endpoint[];
  readonly ports?: readonly EndpointPort[];
}

/** A container port; a Service's named targetPort resolves against these. */
export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: "TCP" | "UDP" | "SCTP";
}

export interface Container {
  readonly name: string;
  readonly ports?: readonly ContainerPort[];
}

export interface Pod {
  readonly apiVersion: "v1";
  readonly kind: "Pod";
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly nodeName?: string; readonly serviceAccountName?: string; readonly containers?: readonly Container[] };
  readonly status?: {
    readonly podIP?: string;
    readonly podIPs?: readonly { readonly ip: string }[];
    readonly phase?: string;
  };
}

export interface Namespace {
  readonly apiVersion: "v1";
  readonly kind: "Namespace";
  readonly metadata: ObjectMeta;
}

/** A v1 Node: only its labels matter (the topology labels that give endpoints their locality). */
export interface Node {
  readonly apiVersion: "v1";
  readonly kind: "Node";
  readonly metadata: ObjectMeta;
}

/**
 * A v1 Secret, reduced to the keys Istio reads for `credentialName` (SECRET_KEYS): the
 * `kubernetes.io/tls` keys `tls.crt`, `tls.key`, `ca.crt`, or the generic `cert`, `key`, `cacert`.
 * Values are base64, as in the API (`stringData` is folded into `data` at validation); other keys
 * and annotations (kubectl's last-applied copy holds the data in clear) are not kept.
 */
export interface Secret {
  readonly apiVersion: "v1";
  readonly kind: "Secret";
  readonly metadata: ObjectMeta;
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
}

/** The Secret keys a credential is read from, as Istio names them. */
export const SECRET_KEYS = {
  tlsCert: "tls.crt",
  tlsKey: "tls.key",
  tlsCa: "ca.crt",
  genericCert: "cert",
  genericKey: "key",
  genericCa: "cacert",
} as const;
export const SECRET_KEY_LIST: readonly string[] = Object.values(SECRET_KEYS);

/** Topology labels Kubernetes and Istio put on Nodes (and Istio adds to endpoint labels). */
export const TOPOLOGY_REGION_LABEL = "topology.kubernetes.io/region";
export const TOPOLOGY_ZONE_LABEL = "topology.kubernetes.io/zone";
export const TOPOLOGY_SUBZONE_LABEL = "topology.istio.io/subzone";
/** The pre-GA names, read when the GA ones are absent. */
export const LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region";
export const LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone";
/** Pod labels that set the locality directly (`region/zone/subzone`; `istio-locality` uses dots). */
export const LOCALITY_LABEL = "topology.istio.io/locality";
export const LEGACY_LOCALITY_LABEL = "istio-locality";
export const HOSTNAME_LABEL = "kubernetes.io/hostname";
export const TOPOLOGY_CLUSTER_LABEL = "topology.istio.io/cluster";

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
