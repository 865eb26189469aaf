// Which Secret resources one stream receives. The view's snapshot is shared by every proxy of
// the view and holds its credentialName Secrets; a stream sees them only when it is entitled
// (an authenticated peer, or the plaintext port with secrets explicitly allowed for development).
// An authenticated stream also gets its own identity's Secrets (`default`, `ROOTCA`), which no
// other proxy of the view shares, laid over the view's.
import { typeVersion } from "./encode.js";
import type { ResourceMap, Snapshot } from "./snapshot.js";
import { TypeTable } from "./type-table.js";
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

  /**
   * `snapshot` as this stream sees it; the same objects while neither input changed. A stream
   * with no Secret at all sees the form every such stream of the view shares: 2000 of them made a
   * copy each per change.
   */
  apply(snapshot: Snapshot): Snapshot {
    if (this.viewSecrets && this.own === undefined) return snapshot;
    if (this.own === undefined) return withoutSecrets(snapshot);
    if (snapshot === this.lastIn && this.own === this.lastOwn && this.lastOut) return this.lastOut;
    this.lastIn = snapshot;
    this.lastOwn = this.own;
    this.lastOut = withSecrets(snapshot, this.viewSecrets, this.own);
    return this.lastOut;
  }
}

const secretless = new WeakMap<Snapshot, Snapshot>();

function withoutSecrets(snapshot: Snapshot): Snapshot {
  // A sidecar's view has no credentialName Secret: its snapshot is its secretless form already (a
  // copy per view per change was a good part of what a change left for the old generation).
  if (snapshot.resources.get(TYPE_URL.secret)?.size === 0 && snapshot.versions.get(TYPE_URL.secret) === typeVersion(EMPTY)) return snapshot;
  let form = secretless.get(snapshot);
  if (!form) {
    form = withSecrets(snapshot, false, undefined);
    secretless.set(snapshot, form);
  }
  return form;
}

function withSecrets(snapshot: Snapshot, viewSecrets: boolean, own: ResourceMap | undefined): Snapshot {
  const view = viewSecrets ? (snapshot.resources.get(TYPE_URL.secret) ?? EMPTY) : EMPTY;
  let secrets = view;
  if (own && own.size > 0) {
    const merged = new Map(view);
    for (const [name, r] of own) merged.set(name, r);
    secrets = merged;
  }
  return {
    resources: TypeTable.from(snapshot.resources).with(TYPE_URL.secret, secrets),
    versions: TypeTable.from(snapshot.versions).with(TYPE_URL.secret, typeVersion(secrets)),
  };
}
