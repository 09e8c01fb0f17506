/**
 * Key ids and safety numbers; port of crypto/fingerprint.py.
 *
 * - keyId(pk) = SHA-256(SPKI DER of pk)[:16] (the SPKI is what WebCrypto exportKey("spki")
 *   gives for a P-256 key).
 * - accountFingerprint(signingPk, encryptionPk): 30 digits from
 *   SHA-256("dermline/v1/fingerprint" || 0x00 || SPKI(signing) || SPKI(encryption)): the first
 *   30 bytes as six 5-byte big-endian integers, each mod 100,000, 5 digits each.
 * - safetyNumber(ours, theirs): both fingerprints, numerically smaller first, as 12 groups of 5.
 */
import { bytesToBigInt, concat, requireBytes } from "./bytes";
import { PrimitiveError, PublicKeyError } from "./errors";
import { p256SpkiDer } from "./primitives/ecc";
import { sha256 } from "./primitives/kdf";
import { label } from "./wire";

export const KEY_ID_LENGTH = 16;
const FINGERPRINT_LABEL = label("fingerprint", true);

/** SPKI DER of a 65-byte uncompressed P-256 point; PublicKeyError if invalid. */
export function spkiDer(publicKey: Uint8Array): Uint8Array {
  requireBytes("publicKey", publicKey);
  try {
    return p256SpkiDer(publicKey);
  } catch (e) {
    if (e instanceof PrimitiveError) throw new PublicKeyError();
    throw e;
  }
}

export async function keyId(publicKey: Uint8Array): Promise<Uint8Array> {
  return (await sha256(spkiDer(publicKey))).slice(0, KEY_ID_LENGTH);
}

function digits(digest: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    out += (bytesToBigInt(digest.subarray(i, i + 5)) % 100000n).toString().padStart(5, "0");
  }
  return out;
}

export async function accountFingerprint(
  signingPublicKey: Uint8Array,
  encryptionPublicKey: Uint8Array,
): Promise<string> {
  const digest = await sha256(
    concat(FINGERPRINT_LABEL, spkiDer(signingPublicKey), spkiDer(encryptionPublicKey)),
  );
  return digits(digest);
}

/** Groups of 5 separated by spaces. */
export function formatDigits(d: string): string {
  const groups: string[] = [];
  for (let i = 0; i < d.length; i += 5) groups.push(d.slice(i, i + 5));
  return groups.join(" ");
}

/** The 60-digit number two people compare; the same on both sides. */
export async function safetyNumber(
  ours: [Uint8Array, Uint8Array],
  theirs: [Uint8Array, Uint8Array],
): Promise<string> {
  const a = await accountFingerprint(ours[0], ours[1]);
  const b = await accountFingerprint(theirs[0], theirs[1]);
  // Equal-length digit strings: lexicographic order is numeric order.
  const [first, second] = a <= b ? [a, b] : [b, a];
  return formatDigits(first + second);
}
