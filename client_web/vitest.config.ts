import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import type { BrowserCommand } from "vitest/node";

// Two projects run the SAME test files:
// - "node": Node's WebCrypto (OpenSSL). `npm test` (what `make test` runs).
// - "chromium": Debian's headless Chromium (BoringSSL WebCrypto, what users run), driven by
//   Playwright with the system browser (it cannot download one). `npm run test:browser`.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const listVectorFiles: BrowserCommand<[dir: string]> = async ({ project }, dir) => {
  const names = await readdir(resolve(project.config.root, "..", "tests", "vectors", dir));
  return names.filter((x) => x.endsWith(".json"));
};

export default defineConfig({
  server: {
    // The browser project reads the vector files in ../tests/vectors (and the shared originals).
    fs: { allow: [".", "..", "/work/shared/vectors"] },
  },
  test: {
    // PBKDF2 at 600,000 iterations and the multi-MiB chunked vectors take a few seconds.
    testTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: "node", environment: "node", include: ["test/crypto/**/*.test.ts", "test/app/**/*.test.ts"] },
      },
      {
        extends: true,
        test: {
          name: "bench",
          include: ["test/bench/**/*.test.ts"],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: {
                executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
                args: CHROMIUM_ARGS,
              },
            }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: "chromium",
          include: ["test/crypto/**/*.test.ts", "test/browser/**/*.test.ts"],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: {
                executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
                args: CHROMIUM_ARGS,
              },
            }),
            instances: [{ browser: "chromium" }],
            commands: { listVectorFiles },
          },
        },
      },
    ],
  },
});
