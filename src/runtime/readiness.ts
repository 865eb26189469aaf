/**
 * Readiness of the running process: every config source has delivered its complete initial state.
 * `/ready` also waits for the first build (the control plane says so itself).
 */
export class Readiness {
  private readonly pending: Set<string>;

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

  /** The parts still loading (for logs and the /ready answer). */
  get waitingFor(): readonly string[] {
    return [...this.pending];
  }
}
