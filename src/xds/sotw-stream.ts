// State-of-the-world ADS (StreamAggregatedResources). When to answer follows istiod's
// ShouldRespond (xds-protocol.md §1.3, §1.4, §2.7):
//   NACK (error_detail set)        → record it, answer nothing: never re-send a refused version
//   stale nonce                    → ignore the request entirely
//   empty nonce (initial/reconnect)→ answer
//   ACK                            → answer only if names were added (or wildcard switched on),
//                                    or it is the first EDS request after a CDS push (warming)
//   snapshot changed               → answer if what this proxy subscribes to changed
import type { DiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import { type Built, Connection } from "./connection.js";
import type { Resource, ResourceMap, Snapshot } from "./snapshot.js";
import { TypeState } from "./stream-state.js";
import { isWildcardType, TYPE_URL, type TypeUrl } from "./type-urls.js";
import { decodeSotwRequest } from "./service-definition.js";
import { sotwPieces, wholeSotwPieces } from "./wire.js";

const EMPTY: ResourceMap = new Map();

export class SotwConnection extends Connection<DiscoveryRequest> {
  readonly transport = "sotw" as const;
  /** A CDS response went out: the next EDS request must be answered even if it looks like an ACK. */
  private edsOwedAfterCds = false;

  protected decode(raw: Uint8Array): DiscoveryRequest {
    return decodeSotwRequest(raw);
  }

  protected newTypeState(): TypeState {
    return new TypeState();
  }

  protected handleRequest(req: DiscoveryRequest, type: TypeUrl, st: TypeState, at: number): void {
    const nonce = req.responseNonce;
    if (req.errorDetail) {
      this.recordNack(type, st, nonce, req.errorDetail.message);
      return;
    }
    if (nonce !== "" && nonce !== st.nonceSent) {
      this.log.debug({ typeUrl: type, nonce, expected: st.nonceSent }, "stale nonce; request ignored");
      return;
    }
    const grew = st.sub.replace(this.canonicalNames(type, req.resourceNames), isWildcardType(type));
    for (const n of [...st.known.keys()]) if (!st.sub.names.has(n)) st.known.delete(n); // dropped names
    let force = nonce === "" || grew;
    if (nonce !== "") st.ack(nonce, req.versionInfo);
    if (type === TYPE_URL.endpoint && this.edsOwedAfterCds) {
      this.edsOwedAfterCds = false;
      force = true;
    }
    if (force && !st.sub.empty) st.owe("force", at);
  }

  protected build(type: TypeUrl, st: TypeState, snapshot: Snapshot): Built | undefined {
    if (st.sub.empty) return undefined;
    const resources = snapshot.resources.get(type) ?? EMPTY;
    st.sub.names.adopt(resources);
    const version = snapshot.versions.get(type) ?? "";
    if (st.sub.wildcard) {
      if (st.pending === "changed" && version === st.versionSent) return undefined;
      st.known.clear(); // wildcard compares whole-type versions; no per-name memory needed
      const nonce = this.sent(st, version);
      return { message: wholeSotwPieces(type, version, resources, this.ctx.controlPlaneId, nonce), resourceCount: resources.size };
    }
    // Full-state types (LDS/CDS by name) and owed answers carry every subscribed resource. A
    // change push of EDS/RDS carries only what changed: Envoy keeps the EDS/RDS resources a
    // response leaves out, so an endpoint change costs one CLA, not all of them (EDS fast path).
    const everything = isWildcardType(type) || st.pending === "force";
    const list: Resource[] = [];
    for (const name of st.sub.names) {
      const r = resources.get(name);
      if (r && (everything || st.known.get(name) !== r.version)) list.push(r);
    }
    if (!everything) for (const n of [...st.known.missingFrom(resources)]) st.known.delete(n); // gone: resend if it returns
    if (st.pending === "changed" && (everything ? !this.namedChanged(st, list) : list.length === 0)) return undefined;
    if (everything) st.known.clear();
    for (const r of list) st.known.set(r.name, r.version);
    // Everything known is in `resources` at its current version: holding all of it, share it.
    if (st.known.size === resources.size) st.known.rebase(resources);
    const nonce = this.sent(st, version);
    // Every resource of the type (names are unique): the body every such proxy gets, built once.
    const message =
      list.length === resources.size
        ? wholeSotwPieces(type, version, resources, this.ctx.controlPlaneId, nonce)
        : sotwPieces(type, version, list, this.ctx.controlPlaneId, nonce);
    return { message, resourceCount: list.length };
  }

  /**
   * Did a full-state (LDS/CDS) named subset change since the last response? A vanished name
   * counts: absence from a SotW LDS/CDS response means "deleted".
   */
  private namedChanged(st: TypeState, list: readonly Resource[]): boolean {
    return list.length !== st.known.size || list.some((r) => st.known.get(r.name) !== r.version);
  }

  private sent(st: TypeState, version: string): string {
    const nonce = this.nextNonce();
    st.versionSent = version;
    st.nonceSent = nonce;
    return nonce;
  }

  protected override afterWrite(type: TypeUrl): void {
    if (type === TYPE_URL.cluster) this.edsOwedAfterCds = true;
  }
}
