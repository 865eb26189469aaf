/** `meshpilot serve`'s injection flags → the webhook's options. */
import type { ServeOptions } from "../runtime/serve.js";

export interface InjectFlags {
  readonly injectAddress?: string;
  readonly inject: boolean;
  readonly injectService: string;
  readonly injectXdsAddress?: string;
  readonly proxyImage: string;
  readonly proxyInitImage: string;
}

/** `--inject-service name.namespace`: the Service meshpilot is reached through. */
export function meshpilotService(text: string): { name: string; namespace: string } {
  const dot = text.indexOf(".");
  if (dot <= 0 || dot === text.length - 1) throw new Error(`--inject-service "${text}" must be <name>.<namespace>`);
  return { name: text.slice(0, dot), namespace: text.slice(dot + 1) };
}

/**
 * On by default in a cluster (as istiod's 15017), off elsewhere unless an address is given. With
 * the mesh CA (`secure`), injected proxies connect to the secure port with their pod's token and
 * get workload certificates; without it, to the plaintext port.
 */
export function injectOptions(
  o: InjectFlags,
  useKube: boolean,
  secure: boolean,
  inCluster = process.env["KUBERNETES_SERVICE_HOST"] !== undefined,
): ServeOptions["inject"] {
  if (!o.inject) return undefined;
  const address = o.injectAddress ?? (useKube && inCluster ? "0.0.0.0:15017" : undefined);
  if (address === undefined) return undefined;
  const { name, namespace } = meshpilotService(o.injectService);
  return {
    address,
    caSecretNamespace: namespace,
    dnsNames: [`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}`, name],
    settings: {
      xdsAddress: o.injectXdsAddress ?? `${name}.${namespace}.svc:${secure ? 15012 : 15010}`,
      ...(secure ? { secureXds: { serverName: `${name}.${namespace}.svc`, tokenAudience: "istio-ca" } } : {}),
      proxyImage: o.proxyImage,
      captureImage: o.proxyInitImage,
    },
  };
}
