/**
 * Public API of the Dermline protocol v1 port (browser). Application code imports from here
 * only; `primitives/` is the hazmat layer the recipes are built on (as pyca separates recipes
 * from hazmat). The Python package crypto/ is the reference; docs/protocol.md the format.
 */
export * from "./errors";
export { fromHex, toHex, fromBase64Url, toBase64Url } from "./bytes";
export * from "./password";
export * from "./recoveryKey";
export * from "./usk";
export * from "./account";
export * from "./fingerprint";
export * from "./caseKey";
export * from "./content";
export * from "./envelope";
export * from "./attachment";
export * from "./recordsKey";
export * from "./patientDrop";
export * from "./merkle";
export * from "./treeHead";
export * from "./logEntry";
export * from "./statement";
export * from "./invite";
export * from "./orgKey";
export * from "./transcript";
export { uuidString } from "./wire";
export * from "./hybrid";
