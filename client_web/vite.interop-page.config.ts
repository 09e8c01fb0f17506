import { defineConfig } from "vite";

// Builds interop/page.ts into one classic script, dist-node/interop-page.js, that
// `node dist-node/interop.mjs --chromium` loads into headless Chromium (see interop/cli.ts).
// Runs after vite.interop.config.ts, which empties dist-node/.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: "dist-node",
    emptyOutDir: false,
    target: "es2022",
    minify: false,
    lib: {
      entry: "interop/page.ts",
      formats: ["iife"],
      name: "dermlineInteropPage",
      fileName: () => "interop-page.js",
    },
  },
});
