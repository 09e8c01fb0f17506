/**
 * The whole preparation runs in a Web Worker (src/photo/worker.ts through PhotoWorkerClient), in
 * headless Chromium: same sizes, same quality report as on the main thread, refusals keep their
 * stable code, misuse stays a TypeError / RangeError.
 */
import { afterAll, describe, expect, it } from "vitest";
import { commands } from "vitest/browser";
import { metadataSegments, PhotoError, PhotoWorkerClient, preparePhoto } from "../../src/photo";

async function readSample(name: string): Promise<Uint8Array<ArrayBuffer>> {
  const text = await commands.readFile(`../tests/vectors/photos/${name}`, "base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

describe("photo preparation in a Web Worker", () => {
  const client = new PhotoWorkerClient(new Worker(new URL("../../src/photo/worker.ts", import.meta.url), { type: "module" }));
  afterAll(() => client.terminate());

  it("gives the main thread's result for the samples", async () => {
    for (const name of ["sharp.jpg", "orientation_6.jpg", "alpha_text.png", "off_centre.jpg"]) {
      const file = new Blob([await readSample(name)]);
      const [inWorker, onMain] = await Promise.all([client.prepare(file), preparePhoto(file)]);
      expect(inWorker.quality, name).toEqual(onMain.quality);
      expect([inWorker.width, inWorker.height, inWorker.thumbWidth, inWorker.thumbHeight, inWorker.orientation]).toEqual([
        onMain.width, onMain.height, onMain.thumbWidth, onMain.thumbHeight, onMain.orientation,
      ]);
      expect(inWorker.jpeg).toBeInstanceOf(Blob);
      expect(metadataSegments(new Uint8Array(await inWorker.jpeg.arrayBuffer()))).toEqual([]);
      expect(metadataSegments(new Uint8Array(await inWorker.thumbnail.arrayBuffer()))).toEqual([]);
    }
  });

  it("refusals keep their code; misuse stays TypeError / RangeError", async () => {
    for (const [name, code] of [["truncated.jpg", "photo_truncated"], ["bomb.png", "photo_too_many_pixels"], ["corrupt.jpg", "photo_corrupt"], ["unsupported.gif", "photo_unsupported_format"]]) {
      const err = await client.prepare(new Blob([await readSample(name!)])).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(PhotoError);
      expect((err as PhotoError).code).toBe(code);
    }
    const sharp = new Blob([await readSample("sharp.jpg")]);
    const tooSmall = await client.prepare(sharp, { maxPixels: 1000 }).catch((e: unknown) => e);
    expect((tooSmall as PhotoError).code).toBe("photo_too_many_pixels");
    await expect(client.prepare(sharp, { jpegQuality: 200 })).rejects.toThrow(RangeError);
    await expect(client.prepare("x" as unknown as Blob)).rejects.toThrow(TypeError);
  });
});
