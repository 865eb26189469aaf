// A Resource this process encoded, with what is worked out of it once: the digest of its content
// and its (name, version) pair's digest for type versions. Kept in private fields, not in side
// tables: a WeakMap entry per resource, two per resource of every view (thousands per build),
// cost more to add and to collect than the resource itself, and private fields stay out of
// JSON, spreads and equality checks, as the side tables did.
import type { Resource } from "./snapshot.js";

export class EncodedResource implements Resource {
  readonly #digest: string;
  #pair: Uint32Array | undefined = undefined;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly body: Uint8Array,
    digest: string,
  ) {
    this.#digest = digest;
  }

  /** The digest of `r`'s content if it was made here. */
  static digestOf(r: Resource): string | undefined {
    return r instanceof EncodedResource ? r.#digest : undefined;
  }

  /** The pair digest remembered for `r` (undefined: none yet, or not made here). */
  static pairOf(r: Resource): Uint32Array | undefined {
    return r instanceof EncodedResource ? r.#pair : undefined;
  }

  /** Remember `r`'s pair digest; false if `r` was not made here (the caller keeps it elsewhere). */
  static setPair(r: Resource, lanes: Uint32Array): boolean {
    if (!(r instanceof EncodedResource)) return false;
    r.#pair = lanes;
    return true;
  }
}
