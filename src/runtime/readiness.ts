/**
 * Readiness of the running process: every config source has delivered its complete initial state.
 * `/ready` also waits for the first build (the control plane says so itself).
 * A ready process can be degraded (a source lost its backend and serves what it last saw): it stays
 * ready, since the proxies are better served by the last state than by none, and says why.
 */
export class Readiness {
  private readonly pending: Set<string>;
  private readonly checks = new Map<string, () => string | undefined>();

  constructor(parts: Iterable<string>) {
    this.pending = new Set(parts);
  }

  /** `part` has its complete initial state. */
  done(part: string): void {
    this.pending.delete(part);
  }

  get ready(): boolean {
    return this.pending.size === 0;
  }

  /** `check` says why `part` is degraded, or undefined while it is not. */
  degradedWhen(part: string, check: () => string | undefined): void {
    this.checks.set(part, check);
  }

  /** Why the process is degraded, one line per part; empty when it is not. */
  get degraded(): readonly string[] {
    return [...this.checks].flatMap(([part, check]) => {
      const why = check();
      return why === undefined ? [] : [`${part}: ${why}`];
    });
  }

  /** The parts still loading (for logs and the /ready answer). */
  get waitingFor(): readonly string[] {
    return [...this.pending];
  }
}
