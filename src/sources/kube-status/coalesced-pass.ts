/**
 * Runs an async pass after a short delay, never two at once: triggers that arrive while a pass
 * runs are folded into one more pass after it. The status writers and the gateway deployer use it
 * so that a burst of config builds costs one round of API calls.
 */
export class CoalescedPass {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private halted = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly opts: { readonly logger: { warn(obj: object, msg: string): void }; readonly what: string; readonly delayMs?: number | undefined },
  ) {}

  trigger(): void {
    if (this.halted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run()
        .catch((err: unknown) => this.opts.logger.warn({ err: String(err) }, `${this.opts.what} failed`))
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.trigger();
          }
        });
    }, this.opts.delayMs ?? 200);
  }

  /** True once `stop` was called: a pass in flight may check it to end early. */
  get stopped(): boolean {
    return this.halted;
  }

  async stop(): Promise<void> {
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
