/**
 * Web Worker entry: runs `preparePhoto` off the main thread (decoding, the quality pass over every
 * pixel and JPEG encoding take a few hundred ms for a 12 MP photo; the page stays responsive).
 *
 * Start it with Vite's worker syntax and talk to it through `PhotoWorkerClient`
 * (workerClient.ts):
 *
 *   const worker = new Worker(new URL("./photo/worker.ts", import.meta.url), { type: "module" });
 *   const photos = new PhotoWorkerClient(worker);
 *   const prepared = await photos.prepare(file);
 *
 * Protocol (structured clone): request {id, file: Blob}; reply {id, ok: true, photo} or
 * {id, ok: false, error: {name, code?}}. Errors cross as name + stable code only (a thrown
 * Error's message never leaves the worker, and ours carry nothing from the photo anyway).
 */
import { MetadataLeakError, PhotoError, PhotoResourceError } from "./errors";
import { preparePhoto, type PreparedPhoto } from "./prepare";
import { type PhotoSettings, photoSettings, type QualitySettings, qualitySettings } from "./settings";

export interface PhotoWorkerRequest {
  readonly id: number;
  readonly file: Blob;
  /** Overrides of the defaults (validated again in the worker). */
  readonly settings?: Partial<PhotoSettings>;
  readonly quality?: Partial<QualitySettings>;
}

export type PhotoWorkerErrorName = "PhotoError" | "MetadataLeakError" | "PhotoResourceError" | "TypeError" | "RangeError" | "Error";

export type PhotoWorkerReply =
  | { readonly id: number; readonly ok: true; readonly photo: PreparedPhoto }
  | { readonly id: number; readonly ok: false; readonly error: { readonly name: PhotoWorkerErrorName; readonly code?: string } };

function errorName(e: unknown): PhotoWorkerErrorName {
  if (e instanceof PhotoError) return "PhotoError";
  if (e instanceof MetadataLeakError) return "MetadataLeakError";
  if (e instanceof PhotoResourceError) return "PhotoResourceError";
  if (e instanceof TypeError) return "TypeError";
  if (e instanceof RangeError) return "RangeError"; // invalid settings
  return "Error";
}

/** Handle one request; exported so the protocol can be tested without a worker too. */
export async function handlePhotoRequest(request: PhotoWorkerRequest): Promise<PhotoWorkerReply> {
  try {
    const settings = photoSettings(request.settings);
    const quality = qualitySettings(request.quality);
    return { id: request.id, ok: true, photo: await preparePhoto(request.file, settings, quality) };
  } catch (e) {
    const name = errorName(e);
    return { id: request.id, ok: false, error: e instanceof PhotoError ? { name, code: e.code } : { name } };
  }
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<PhotoWorkerRequest>) => void) | null;
  postMessage(message: PhotoWorkerReply): void;
}

// Only install the handler when this module really is a worker's entry (not when it is imported
// by a page, e.g. by a test of handlePhotoRequest).
if (typeof window === "undefined" && typeof self !== "undefined") {
  const scope = self as unknown as WorkerScope;
  scope.onmessage = (event) => {
    void handlePhotoRequest(event.data).then((reply) => scope.postMessage(reply));
  };
}
