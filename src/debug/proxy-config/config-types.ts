/** The resource types a proxy's config is shown and compared by (its own module so the CLI can list them without loading the Envoy schemas). */
export const CONFIG_TYPES = ["clusters", "listeners", "routes", "endpoints", "secrets"] as const;
export type ConfigType = (typeof CONFIG_TYPES)[number];
