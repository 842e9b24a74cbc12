import { configDefaults, defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Chromium tests run with `npm run test:browser` (vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, "test/browser/**"],
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 3,
    minWorkers: 1,
    fileParallelism: true,
    sequence: { concurrent: false }
  }
})
