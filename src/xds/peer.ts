// Who is at the other end of a stream, as the secure port established it (ServiceAccount token
// reviewed by the API server, or a client certificate issued by the mesh CA).
export interface PeerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** How the peer proved it: "token" (TokenReview) or "certificate" (mesh CA client certificate). */
  readonly via: "token" | "certificate";
}
