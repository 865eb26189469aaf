// Messages between wire-fanout.ts (the server) and its client process.
export type FanoutToClients =
  | { readonly cmd: "connect"; readonly port: number; readonly streams: number; readonly names: readonly string[] }
  /** Answer once every stream has ACKed `acks` responses in all (or a stream failed). */
  | { readonly cmd: "expect"; readonly acks: number }
  | { readonly cmd: "exit" };

export interface FanoutFromClients {
  /** ACKs sent, over every stream. */
  readonly acks: number;
  /** Streams that ended or failed. */
  readonly errors: number;
  /** The first failed stream's status. */
  readonly firstError: string;
  /** When the first and the last response since the last "expect" were read (ms since the epoch, fractional). */
  readonly firstReadAt: number;
  readonly lastReadAt: number;
}
