// How the load generator knows that a proxy got a change, against any xDS server: every change
// writes a value nobody wrote before (an endpoint address, a header value) into the input, and a
// proxy has the change once a response it ACKed carries that value as a string field. The
// search is for the field's wire form (length prefix + UTF-8), so "10.1.2.3" does not match
// inside "10.1.2.34". Changes of one slot (one endpoint, one VirtualService) supersede each
// other: a proxy that got a later one also has every earlier one, even if the server coalesced
// them and never sent those.
import type { ShortType } from "./counts.js";

export interface Change {
  readonly id: number;
  /** What the change edits; later changes of a slot supersede earlier ones. */
  readonly slot: string;
  readonly seq: number;
  readonly kind: ChangeKind;
  /** The xDS types that may carry the change to a sidecar. */
  readonly types: readonly ShortType[];
  readonly marker: string;
  readonly pattern: Buffer;
  /** Epoch ms when the change was issued (file write or API request started). */
  madeAt: number;
}

export type ChangeKind = "endpoint" | "weight";

/** The bytes of a protobuf string field holding `text`, after its tag: varint length, then UTF-8. */
export function fieldPattern(text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  const len: number[] = [];
  let n = body.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from(len), body]);
}

/** Per proxy: change id → epoch ms when the proxy ACKed a response holding it (or a later change of its slot). */
export type Seen = Map<number, number>;

/** The changes in flight, shared by every proxy of a run. */
export class ChangeWatch {
  private nextId = 1;
  private readonly seqBySlot = new Map<string, number>();
  /** In flight, oldest first. */
  readonly active: Change[] = [];

  /** Registers a change before it is made, so that no response can carry it unnoticed. */
  begin(slot: string, kind: ChangeKind, types: readonly ShortType[], marker: string, at: number): Change {
    const seq = (this.seqBySlot.get(slot) ?? 0) + 1;
    this.seqBySlot.set(slot, seq);
    const c: Change = { id: this.nextId++, slot, seq, kind, types, marker, pattern: fieldPattern(marker), madeAt: at };
    this.active.push(c);
    return c;
  }

  /** No longer looked for (every proxy has it, or the wait for it ended). */
  end(c: Change): void {
    const i = this.active.indexOf(c);
    if (i >= 0) this.active.splice(i, 1);
  }

  /** Records in `seen` each active change carried by `type` that `buf` holds, with the earlier changes of its slot. */
  scan(seen: Seen, type: ShortType, buf: Buffer, at: number): void {
    for (const c of this.active) {
      if (!c.types.includes(type) || seen.has(c.id) || buf.indexOf(c.pattern) < 0) continue;
      for (const d of this.active) if (d.slot === c.slot && d.seq <= c.seq && !seen.has(d.id)) seen.set(d.id, at);
    }
  }
}
