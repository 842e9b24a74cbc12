import { defineConfig } from "vitest/config"

// `npm run test:browser`: the tests that drive a real Chromium (apt-get install chromium).
// Kept out of `npm test` so the suite runs on a machine without a browser.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
    minWorkers: 1
  }
})
