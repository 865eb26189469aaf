/**
 * vitest reporter that closes the run with one plain line, alone on its line:
 *
 *   vitest: 12 passed, 0 failed, 1 skipped
 *
 * and, under CI=true, fails the run when any test was skipped or left as todo: on CI a skipped
 * test is a test that did not run, which is a failure.
 *
 * "failed" counts failed tests, plus test files that failed or never finished without a failed
 * test (an import or beforeAll error, an interrupted run), plus unhandled errors, plus one when
 * no selected file ran at all (global setup threw), so that the line never says 0 failed for a
 * red run.
 */
import type { Reporter, SerializedError, TestModule, TestRunEndReason, TestSpecification } from "vitest/node";

export default class SummaryReporter implements Reporter {
  private specified = 0;

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.specified = specifications.length;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const skippedNames: string[] = [];
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") {
          failed++;
          failedHere++;
        } else if (state === "skipped") {
          skipped++;
          const mode = test.options.mode === "todo" ? "todo" : "skipped";
          skippedNames.push(`${mod.relativeModuleId} > ${test.fullName} (${mode})`);
        } else {
          // pending: never finished (interrupted run)
          failed++;
          failedHere++;
        }
      }
      const state = mod.state();
      if (failedHere === 0 && (state === "failed" || state === "queued" || state === "pending" || mod.errors().length > 0)) failed++;
    }
    // Test files were selected but none ran: the run died before them (e.g. global setup threw).
    if (this.specified > 0 && testModules.length === 0) failed++;
    failed += unhandledErrors.length;
    if (reason === "interrupted" && failed === 0) failed = 1;

    const ci = process.env.CI === "true";
    if (ci && skipped > 0) {
      process.stdout.write(`\nCI=true: ${skipped} test(s) skipped or todo, which fails the run:\n${skippedNames.map((n) => `  - ${n}`).join("\n")}\n`);
      process.exitCode = 1;
    }
    if (failed > 0) process.exitCode = 1;
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
