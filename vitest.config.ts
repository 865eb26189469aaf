import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "./test/support/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Real Envoys and servers share 2 cores: keep parallelism modest.
    maxWorkers: 2,
    passWithNoTests: false,
  },
});
