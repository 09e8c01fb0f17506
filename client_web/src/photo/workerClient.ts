/**
 * Main-thread side of the photo worker (worker.ts): `prepare(file)` resolves to the same
 * PreparedPhoto as `preparePhoto(file)` and rejects with the same error classes (PhotoError with
 * its stable code, MetadataLeakError, PhotoResourceError, TypeError), rebuilt from the reply.
 */
import { MetadataLeakError, PhotoError, type PhotoErrorCode, PhotoResourceError } from "./errors";
import type { PreparedPhoto } from "./prepare";
import type { PhotoSettings, QualitySettings } from "./settings";
import type { PhotoWorkerReply, PhotoWorkerRequest } from "./worker";

const CODES: ReadonlySet<string> = new Set([
  "photo_empty",
  "photo_too_large",
  "photo_unsupported_format",
  "photo_truncated",
  "photo_corrupt",
  "photo_too_many_pixels",
]);

function rebuild(error: { readonly name: string; readonly code?: string }): Error {
  if (error.name === "PhotoError" && error.code !== undefined && CODES.has(error.code)) return new PhotoError(error.code as PhotoErrorCode);
  if (error.name === "MetadataLeakError") return new MetadataLeakError(["(reported by the photo worker)"]);
  if (error.name === "PhotoResourceError") return new PhotoResourceError("canvas");
  if (error.name === "TypeError") return new TypeError("preparePhoto expects the photo file as a Blob");
  if (error.name === "RangeError") return new RangeError("invalid photo settings");
  return new Error("the photo worker failed");
}

export class PhotoWorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (p: PreparedPhoto) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<PhotoWorkerReply>) => {
      const reply = event.data;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.photo);
      else pending.reject(rebuild(reply.error));
    };
    // A worker that fails to load or crashes fails every photo in flight (no silent hang).
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll();
    };
  }

  prepare(file: Blob, settings?: Partial<PhotoSettings>, quality?: Partial<QualitySettings>): Promise<PreparedPhoto> {
    if (!(file instanceof Blob)) return Promise.reject(new TypeError("preparePhoto expects the photo file as a Blob"));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const request: PhotoWorkerRequest = { id, file, ...(settings && { settings: { ...settings } }), ...(quality && { quality: { ...quality } }) };
      this.#worker.postMessage(request);
    });
  }

  /** Stop the worker; photos in flight reject. */
  terminate(): void {
    this.#worker.terminate();
    this.#failAll();
  }

  #failAll(): void {
    for (const { reject } of this.#pending.values()) reject(new Error("the photo worker failed"));
    this.#pending.clear();
  }
}
