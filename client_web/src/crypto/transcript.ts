/**
 * The thread's transcript check: what a reader concludes from the hash chain; port of
 * crypto/transcript.py (docs/protocol.md section 23).
 *
 * Every envelope names the message hash of the newest message its sender held (or 32 zero bytes
 * for the first message of a case). A reader walks the thread in the server's order and, for
 * each message, reports what the chain shows, never silently repairing it:
 *
 * - `gap`      it names a hash this reader has not been shown: a message dropped or withheld,
 *              or a fork (two readers shown different threads);
 * - `reorder`  it names a message that comes later in the server's order;
 * - `replay`   its message hash was already shown, or its client message id was, with a
 *              different hash;
 * - `genesis`  it names the zero hash but is not the first message, or it is the first message
 *              and names anything else.
 *
 * Two messages naming the same predecessor are legitimate concurrency, not a finding. Messages
 * that fail to open are the caller's `unreadable` items and are left out of the list: a message
 * that names one of them then shows a gap, which is what the reader saw. The function is pure
 * and sees only clear headers and hashes (entryFromRecord), so the server's order, not the
 * senders' clocks, is what it checks.
 */
import { equalBytes, requireLength, toHex } from "./bytes";
import { GENESIS_HASH, messageHash, parseMessageHeader } from "./envelope";
import { checkSafeUint, uuidBytes, uuidString } from "./wire";

/** One finding about one message; FINDING_ORDER is the order in results. */
export type Finding = "genesis" | "gap" | "reorder" | "replay";
export const FINDING_ORDER: readonly Finding[] = ["genesis", "gap", "reorder", "replay"];

/**
 * What the check needs of one message: the server's sequence number (for the caller's display;
 * the list order is the server's order), the client message id, the hash the message names and
 * its own hash.
 */
export interface TranscriptEntry {
  seq: number;
  clientMessageId: string;
  previousHash: Uint8Array;
  messageHash: Uint8Array;
}

const HASH = 32;

/**
 * The entry of an envelope (either type) from its clear header. MessageHeaderError for a
 * malformed record (the caller shows it as unreadable and leaves it out).
 */
export async function entryFromRecord(seq: number, record: Uint8Array): Promise<TranscriptEntry> {
  const header = parseMessageHeader(record);
  return {
    seq: checkSafeUint("seq", seq),
    clientMessageId: header.clientMessageId,
    previousHash: header.previousHash,
    messageHash: await messageHash(record),
  };
}

/**
 * The findings for each message of a thread given in the server's order: one array per entry,
 * in the same order, each holding its findings in FINDING_ORDER (empty when the chain shows
 * nothing wrong there).
 */
export function checkTranscript(entries: readonly TranscriptEntry[]): Finding[][] {
  if (!Array.isArray(entries)) throw new TypeError("entries must be an array");
  const checked = entries.map((e) => {
    checkSafeUint("seq", e.seq);
    requireLength("previousHash", e.previousHash, HASH);
    requireLength("messageHash", e.messageHash, HASH);
    return {
      id: uuidString(uuidBytes("clientMessageId", e.clientMessageId)),
      previous: toHex(e.previousHash),
      hash: toHex(e.messageHash),
      namesGenesis: equalBytes(e.previousHash, GENESIS_HASH),
    };
  });
  const position = new Map<string, number>();
  checked.forEach((e, index) => {
    if (!position.has(e.hash)) position.set(e.hash, index);
  });
  const seenHashes = new Set<string>();
  const seenIds = new Map<string, Set<string>>();
  return checked.map((e, index) => {
    const found = new Set<Finding>();
    if (e.namesGenesis !== (index === 0)) found.add("genesis");
    if (!e.namesGenesis && !seenHashes.has(e.previous)) {
      const later = position.get(e.previous);
      found.add(later !== undefined && later > index ? "reorder" : "gap");
    }
    let earlier = seenIds.get(e.id);
    if (earlier === undefined) {
      earlier = new Set();
      seenIds.set(e.id, earlier);
    }
    if (seenHashes.has(e.hash) || (earlier.size > 0 && !earlier.has(e.hash))) found.add("replay");
    seenHashes.add(e.hash);
    earlier.add(e.hash);
    return FINDING_ORDER.filter((f) => found.has(f));
  });
}
