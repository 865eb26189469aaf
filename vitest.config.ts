import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Real Envoys and servers share 2 cores: keep parallelism modest.
    maxWorkers: 2,
    passWithNoTests: false,
    projects: [
      {
        extends: true,
        // Envoy and the kube-apiserver (at the root, every project would inherit it and run it again).
        test: {
          name: "main",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/cluster/**"],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
      {
        // The local cluster: its globalSetup starts one (only when a cluster test is selected)
        // while the main project's tests run; its tests run after those, one file at a time,
        // so that nothing else changes the host while they compare its state.
        extends: true,
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          globalSetup: ["test/cluster/global-setup.ts"],
          sequence: { groupOrder: 1 },
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
