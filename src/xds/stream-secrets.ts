// Which Secret resources one stream receives. The view's snapshot is shared by every proxy of
// the view and holds its credentialName Secrets; a stream sees them only when it is entitled
// (an authenticated peer, or the plaintext port with secrets explicitly allowed for development).
// An authenticated stream also gets its own identity's Secrets (`default`, `ROOTCA`), which no
// other proxy of the view shares, laid over the view's.
import { typeVersion } from "./encode.js";
import type { ResourceMap, Snapshot } from "./snapshot.js";
import { TYPE_URL } from "./type-urls.js";

const EMPTY: ResourceMap = new Map();

export class StreamSecrets {
  private own: ResourceMap | undefined;
  private lastIn: Snapshot | undefined;
  private lastOwn: ResourceMap | undefined;
  private lastOut: Snapshot | undefined;

  /** `viewSecrets`: may this stream receive the view's (credentialName) Secrets? */
  constructor(private readonly viewSecrets: boolean) {}

  /** This stream's own Secrets (replacing the last set); they win over view Secrets of the same name. */
  setOwn(own: ResourceMap | undefined): void {
    this.own = own;
  }

  /** Does the stream get any Secret at all? */
  get entitled(): boolean {
    return this.viewSecrets || this.own !== undefined;
  }

  /** `snapshot` as this stream sees it; the same objects while neither input changed. */
  apply(snapshot: Snapshot): Snapshot {
    if (this.viewSecrets && this.own === undefined) return snapshot;
    if (snapshot === this.lastIn && this.own === this.lastOwn && this.lastOut) return this.lastOut;
    const view = this.viewSecrets ? (snapshot.resources.get(TYPE_URL.secret) ?? EMPTY) : EMPTY;
    let secrets = view;
    if (this.own && this.own.size > 0) {
      const merged = new Map(view);
      for (const [name, r] of this.own) merged.set(name, r);
      secrets = merged;
    }
    const resources = new Map(snapshot.resources);
    resources.set(TYPE_URL.secret, secrets);
    const versions = new Map(snapshot.versions);
    versions.set(TYPE_URL.secret, typeVersion(secrets));
    this.lastIn = snapshot;
    this.lastOwn = this.own;
    this.lastOut = { resources, versions };
    return this.lastOut;
  }
}
