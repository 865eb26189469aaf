/** `meshpilot serve`'s CA and secure-port flags → the identity options. */
import type { ServeOptions } from "../runtime/serve.js";
import { meshpilotService } from "./inject-options.js";

export interface IdentityFlags {
  readonly secureXds: boolean;
  readonly secureXdsAddress: string;
  readonly caDir?: string;
  readonly injectService: string;
  readonly trustDomain?: string;
}

/**
 * The serving certificate names the Service (`<name>.<ns>.svc`, …) and, as istiod's does, `istiod`
 * names, so that an unmodified istio-agent whose discovery address is istiod's verifies it.
 */
export function identityOptions(o: IdentityFlags): ServeOptions["identity"] {
  if (!o.secureXds) return undefined;
  const { name, namespace } = meshpilotService(o.injectService);
  const names = [name, "istiod"].flatMap((n) => [`${n}.${namespace}.svc`, `${n}.${namespace}.svc.cluster.local`, `${n}.${namespace}`]);
  if (namespace !== "istio-system") names.push("istiod.istio-system.svc");
  return {
    secureXdsAddress: o.secureXdsAddress,
    caNamespace: namespace,
    ...(o.caDir !== undefined ? { caDir: o.caDir } : {}),
    ...(o.trustDomain !== undefined ? { trustDomain: o.trustDomain } : {}),
    dnsNames: [...new Set(names)],
  };
}
