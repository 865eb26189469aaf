// Types for scripts/netns-bridge.mjs (plain JS so that it runs without a build step).
export type Endpoint = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };
/** `PREFIX-<ownerPid>-<random>`; `cleanStale(PREFIX)` removes it once the owner is gone. */
export declare function uniqueName(prefix: string, ownerPid?: number): string;
/** `/run/netns/NAME`. */
export declare function nsPath(name: string): string;
/** Every network namespace, or those named `PREFIX-…`. */
export declare function listNetns(prefix?: string): string[];
/** Creates network namespace NAME with its loopback up. */
export declare function addNetns(name: string): string;
/** Kills every process inside NAME, then deletes it. A missing namespace is not an error. */
export declare function deleteNetns(name: string): void;
/** Deletes the namespaces named PREFIX-<pid>-* whose owner process no longer runs; returns their names. */
export declare function cleanStale(prefix: string): string[];
/** `nsenter` arguments that run COMMAND in NAME's network namespace and change nothing else. */
export declare function nsenterArgs(name: string, command: string, args?: readonly string[]): string[];
/** `tcp:A.B.C.D:PORT` or `unix:PATH`. */
export declare function parseEndpoint(spec: string): Endpoint;
export interface RelayStats {
  accepted: number;
  active: number;
}
/** Listens on `listen`, joins each connection to a new one to `target` (one TCP, one unix). */
export declare function startRelay(listen: Endpoint, target: Endpoint): Promise<{ address: Endpoint; target: Endpoint; stats: RelayStats; close: () => void }>;
