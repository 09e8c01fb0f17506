/** The crypto functions the app shell uses, in one place (keeps page imports short). */
export * from "../crypto/index";
export { concat as concatRecords, equalBytes } from "../crypto/bytes";
