/**
 * Invite secrets, the invite key and the invite link fragment; port of crypto/invite.py
 * (docs/protocol.md section 20).
 *
 * An administrator's client makes an invite with 32 random bytes `s`; the link carries `s` and
 * the organisation key's id in its fragment, which browsers never send to a server:
 *
 *     invite key pair = DeriveKeyPair(HKDF-SHA256(s, salt = "", info = "dermline/v1/invite-key", 32))
 *     link            = <origin>/#/invite/<token>.<b64url s>.<b64url OK key id>
 *
 * `token` is the server's invite token (43 base64url characters; its SHA-256 is what the server
 * keeps and what the invite statement names); `s` takes 43 characters and the key id 22, all
 * base64url without padding and with zero spare bits. A fragment of the token alone is a
 * server-made (uncertified) invite and is still valid.
 */
import { type KeyPair, keyPairFromSeed } from "./account";
import { fromBase64Url, requireLength, toBase64Url } from "./bytes";
import { InviteLinkFormatError } from "./errors";
import { KEY_ID_LENGTH } from "./fingerprint";
import { hkdfSha256 } from "./primitives/kdf";
import { label } from "./wire";

export const INVITE_SECRET_LENGTH = 32;
const INFO = /* @__PURE__ */ label("invite-key");
// 32 bytes are 43 characters whose last carries 2 spare bits; 16 bytes are 22 characters whose
// last carries 4. Spare bits must be zero so that every value has one spelling.
const B64_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const B64_16 = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/**
 * A parsed fragment. `secret` and `orgKeyId` are both null for a server-made invite, both set
 * for one an administrator's client made (`certified`).
 */
export interface InviteLink {
  token: string;
  secret: Uint8Array | null;
  orgKeyId: Uint8Array | null;
  certified: boolean;
}

/** A fresh invite secret `s`. */
export function generateInviteSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(INVITE_SECRET_LENGTH));
}

/** The invite key pair of an invite secret (RFC 9180 DeriveKeyPair over an HKDF output). */
export async function deriveInviteKey(secret: Uint8Array): Promise<KeyPair> {
  requireLength("secret", secret, INVITE_SECRET_LENGTH);
  return keyPairFromSeed(await hkdfSha256(secret, { salt: new Uint8Array(0), info: INFO, length: 32 }));
}

/** The text after "#/invite/": the token alone, or "token.s.key id". */
export function formatInviteFragment(
  token: string,
  secret: Uint8Array | null = null,
  orgKeyId: Uint8Array | null = null,
): string {
  if (typeof token !== "string" || !B64_32.test(token)) {
    throw new RangeError("token must be 43 canonical base64url characters");
  }
  if ((secret === null) !== (orgKeyId === null)) throw new RangeError("secret and orgKeyId go together");
  if (secret === null || orgKeyId === null) return token;
  requireLength("secret", secret, INVITE_SECRET_LENGTH);
  requireLength("orgKeyId", orgKeyId, KEY_ID_LENGTH);
  return `${token}.${toBase64Url(secret)}.${toBase64Url(orgKeyId)}`;
}

/**
 * Parse the text after "#/invite/"; InviteLinkFormatError unless it is a token alone or
 * "token.s.key id", each in its one canonical spelling.
 */
export function parseInviteFragment(text: string): InviteLink {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  const parts = text.split(".");
  if (!B64_32.test(parts[0]!)) throw new InviteLinkFormatError();
  if (parts.length === 1) return { token: parts[0]!, secret: null, orgKeyId: null, certified: false };
  if (parts.length !== 3 || !B64_32.test(parts[1]!) || !B64_16.test(parts[2]!)) {
    throw new InviteLinkFormatError();
  }
  return {
    token: parts[0]!,
    secret: fromBase64Url(parts[1]!),
    orgKeyId: fromBase64Url(parts[2]!),
    certified: true,
  };
}
