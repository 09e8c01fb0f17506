/**
 * The printed recovery key; port of crypto/recovery_key.py.
 *
 * secret (32 bytes) || checksum (3 bytes), checksum = SHA-256("dermline/v1/recovery-key" ||
 * 0x00 || secret)[:3]; the 280 bits are written in Crockford base32 (no I, L, O, U) as 56
 * characters in 14 groups of 4 joined by "-". Decoding forgives case, spaces, hyphens, O for
 * 0 and I/L for 1, and is strict about everything else; a typo gives a RecoveryKeyFormatError
 * meant for the person (never echoing what was typed) before any decryption.
 */
import { bigIntToBytes, bytesToBigInt, concat, equalBytes, requireLength } from "./bytes";
import { RecoveryKeyFormatError } from "./errors";
import { sha256 } from "./primitives/kdf";
import { label } from "./wire";

export const RECOVERY_SECRET_LENGTH = 32;
export const RECOVERY_KEY_CHARACTERS = 56;
const CHECKSUM_LENGTH = 3;
const GROUP = 4;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const VALUES: Map<string, number> = new Map([
  ...[...ALPHABET].map((c, i) => [c, i] as [string, number]),
  ["O", 0],
  ["I", 1],
  ["L", 1],
]);
const SEPARATORS = new Set([" ", "-", "\t", "\n", "\r"]);
const CHECKSUM_LABEL = label("recovery-key", true);

async function checksum(secret: Uint8Array): Promise<Uint8Array> {
  return (await sha256(concat(CHECKSUM_LABEL, secret))).slice(0, CHECKSUM_LENGTH);
}

export function newRecoverySecret(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(RECOVERY_SECRET_LENGTH));
}

export async function encodeRecoveryKey(secret: Uint8Array): Promise<string> {
  requireLength("secret", secret, RECOVERY_SECRET_LENGTH);
  const n = bytesToBigInt(concat(secret, await checksum(secret)));
  let text = "";
  for (let i = 0; i < RECOVERY_KEY_CHARACTERS; i++) {
    text += ALPHABET[Number((n >> BigInt(5 * (RECOVERY_KEY_CHARACTERS - 1 - i))) & 31n)]!;
  }
  const groups: string[] = [];
  for (let i = 0; i < RECOVERY_KEY_CHARACTERS; i += GROUP) groups.push(text.slice(i, i + GROUP));
  return groups.join("-");
}

export async function decodeRecoveryKey(text: string): Promise<Uint8Array> {
  if (typeof text !== "string") throw new TypeError("recovery key must be a string");
  let n = 0n;
  let count = 0;
  for (const ch of text) {
    if (SEPARATORS.has(ch)) continue;
    // Python's str.upper() and JS toUpperCase() agree on every character that can map into
    // the alphabet (ASCII letters); anything else is refused either way.
    const v = VALUES.get(ch.toUpperCase());
    if (v === undefined) {
      throw new RecoveryKeyFormatError(
        "That does not look like a recovery key: it contains a character that " +
          "recovery keys never use. Recovery keys use digits and the letters A to Z " +
          "except I, L, O and U.",
      );
    }
    n = (n << 5n) | BigInt(v);
    count++;
  }
  if (count !== RECOVERY_KEY_CHARACTERS) {
    throw new RecoveryKeyFormatError(
      `That does not look like a recovery key: a recovery key has ` +
        `${RECOVERY_KEY_CHARACTERS} characters (14 groups of 4), this has ${count}.`,
    );
  }
  const payload = bigIntToBytes(n, RECOVERY_SECRET_LENGTH + CHECKSUM_LENGTH);
  const secret = payload.slice(0, RECOVERY_SECRET_LENGTH);
  if (!equalBytes(await checksum(secret), payload.subarray(RECOVERY_SECRET_LENGTH))) {
    throw new RecoveryKeyFormatError(
      "That does not look like a recovery key: the characters do not add up, so " +
        "something was probably mistyped. Please check each group against the printout.",
    );
  }
  return secret;
}
