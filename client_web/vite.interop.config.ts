import { defineConfig } from "vite";

// Builds interop/cli.ts into a single Node ES module (dist-node/interop.mjs) so the Python
// test suite can drive the browser port's crypto without a TypeScript toolchain at run time.
export default defineConfig({
  build: {
    outDir: "dist-node",
    emptyOutDir: true,
    target: "node20",
    ssr: "interop/cli.ts",
    minify: false,
    rollupOptions: {
      // `--chromium` loads playwright-core at run time from node_modules (a devDependency).
      external: ["playwright-core"],
      output: { entryFileNames: "interop.mjs", format: "es" },
    },
  },
  ssr: { noExternal: true },
});
