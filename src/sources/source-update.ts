import type { Diagnostic } from "../api/diagnostics.js";
import type { StoreEvent } from "../store/store.js";

/** What a config source delivers: store events under its own name, and every current diagnostic it has. */
export interface SourceUpdate {
  /** The source name to apply `events` under (`store.apply(update.source, update.events)`). */
  readonly source: string;
  readonly events: readonly StoreEvent[];
  /** Every current diagnostic of this source (a complete list, not a delta). */
  readonly diagnostics: readonly Diagnostic[];
  /** True for the first update: the source's complete initial state. */
  readonly initial: boolean;
}
