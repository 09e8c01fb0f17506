/**
 * Locates and loads test-vector JSON files, in Node (Vitest "node" project) and in headless
 * Chromium (Vitest "chromium" project, through the browser-mode file commands). The project's
 * copies under tests/vectors/ (with their source and licence notes, maintained by the Python
 * side) are used; while a file has not been copied there yet, the shared originals in
 * /work/shared/vectors/ are used, and if neither exists the test fails loudly (a missing vector
 * file must never pass silently).
 */

export const IN_BROWSER = typeof window !== "undefined" && typeof document !== "undefined";

// Relative to client_web/ (the Vitest root).
const BASES = ["../tests/vectors", "/work/shared/vectors"];

async function readText(path: string): Promise<string> {
  if (IN_BROWSER) {
    const { commands } = await import("vitest/browser");
    return commands.readFile(path);
  }
  const fsName = "node:fs/promises";
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs/promises");
  return fs.readFile(new URL(path, `file://${process.cwd()}/`), "utf8");
}

export async function loadVectors<T = unknown>(rel: string): Promise<T> {
  for (const base of BASES) {
    let text: string;
    try {
      text = await readText(`${base}/${rel}`);
    } catch {
      continue;
    }
    return JSON.parse(text) as T;
  }
  throw new Error(`test vector file not found: tests/vectors/${rel}`);
}

/** Names of the JSON files in tests/vectors/<dir> (custom browser command in browser mode). */
export async function listVectorFiles(dir: string): Promise<string[]> {
  if (IN_BROWSER) {
    const { commands } = await import("vitest/browser");
    const c = commands as unknown as { listVectorFiles(dir: string): Promise<string[]> };
    return c.listVectorFiles(dir);
  }
  const fsName = "node:fs/promises";
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs/promises");
  const names = await fs.readdir(new URL(`../tests/vectors/${dir}/`, `file://${process.cwd()}/`));
  return names.filter((x) => x.endsWith(".json"));
}

/** zlib inflate (RFC 1950) with the standard DecompressionStream, in Node and browsers. */
export async function inflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: "valid" | "invalid" | "acceptable";
  [k: string]: unknown;
}

export interface WycheproofGroup {
  type: string;
  tests: WycheproofTest[];
  [k: string]: unknown;
}

export interface WycheproofFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: WycheproofGroup[];
}

export function wycheproof(name: string): Promise<WycheproofFile> {
  return loadVectors<WycheproofFile>(`wycheproof/${name}`);
}

/** Resolves to "ok" or "rejected" (any thrown error), so tests can state the expected outcome. */
export async function outcome(f: () => Promise<unknown> | unknown): Promise<"ok" | "rejected"> {
  try {
    await f();
    return "ok";
  } catch {
    return "rejected";
  }
}
