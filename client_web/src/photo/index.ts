/**
 * Public API of the browser photo pipeline (docs/photos.md):
 *
 *   const prepared = await preparePhoto(file);      // file from <input type="file">
 *   prepared.jpeg, prepared.thumbnail               // metadata-free JPEG Blobs: encrypt these
 *   prepared.quality.verdict, .reasons, .metrics    // show before sending; never blocks
 *   qualityReportToJson(prepared.quality)           // the same JSON as Python's as_dict()
 *
 * Bad files reject with PhotoError whose `code` is one of the stable codes shared with Python.
 * Nothing here touches the DOM: the whole pipeline runs in a Web Worker too (worker.ts, driven
 * by PhotoWorkerClient: `new PhotoWorkerClient(new Worker(new URL("./photo/worker.ts",
 * import.meta.url), { type: "module" })).prepare(file)`), and `assessQuality` takes plain RGBA.
 */
export { assertNoMetadata, exifOrientation, jpegSegments, markerName, metadataSegments, parseContainer, sniffFormat, stripIccProfile } from "./containers";
export type { ContainerFormat, ContainerInfo, JpegSegment } from "./containers";
export { MetadataLeakError, PhotoError, PhotoErrorCode, PhotoResourceError } from "./errors";
export { fitSize, preparePhoto } from "./prepare";
export type { PreparedPhoto } from "./prepare";
export { REASON_ORDER, analysisFactor, assessQuality, judge, measure, qualityReportToJson } from "./quality";
export type { QualityMetrics, QualityReport, QualityReportJson, Reason, RgbaPixels, Verdict } from "./quality";
export { DEFAULT_PHOTO_SETTINGS, DEFAULT_QUALITY_SETTINGS, photoSettings, qualitySettings } from "./settings";
export type { PhotoSettings, QualitySettings } from "./settings";
export { PhotoWorkerClient } from "./workerClient";
export type { PhotoWorkerReply, PhotoWorkerRequest } from "./worker";
