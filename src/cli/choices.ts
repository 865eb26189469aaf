// The fixed choices of the command line's options, apart from the modules that act on them, so
// that `meshpilot --help` and argument checks load nothing else.
import { CONFIG_TYPES } from "../debug/proxy-config/config-types.js";

/** `translate --type`. */
export const RESOURCE_TYPES = ["clusters", "endpoints", "listeners", "routes", "secrets"] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** `proxy-config <type>`. */
export const PROXY_CONFIG_TYPES = [...CONFIG_TYPES, "all"] as const;
