// Some dependencies serve only some runs: the CEL parser (Telemetry access-log filters), the
// exact YAML reader (files with a diagnostic), the diff printer of the debug API. Loaded at
// start-up they cost CPU and memory on every run (issue 12 item 3), so they are loaded when first
// used, synchronously: Node ≥ 20.19 `require`s ES modules as well as CommonJS.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** A getter for the module `specifier`, which loads it on the first call. */
export function lazyModule<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
