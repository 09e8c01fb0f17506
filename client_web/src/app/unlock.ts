/**
 * Signing in and unlocking (docs/api.md "Login"): the KDF-parameters record from the server is
 * checked (600,000..2,000,000 iterations, 16..64-byte salt) before any work; PBKDF2 and HKDF
 * run in WebCrypto with the KEK non-extractable; after the second factor, the USK is unwrapped
 * straight into a non-extractable key and the two private keys are unsealed into
 * non-extractable WebCrypto keys whose public halves must equal what the server lists.
 */
import type { Me } from "./api";
import {
  KeyPurpose,
  PrivateKeyUnsealError,
  deriveUnlockKeys,
  equalBytes,
  parseKdfParams,
  unsealAccountKey,
  unwrapUskWithKek,
  unwrapUskWithKekAsKey,
} from "./cryptoFacade";
import { forgetUsk, recallUsk, rememberUsk } from "./deviceStore";
import type { UnlockedKeys } from "./session";

export interface PasswordKeys {
  authKey: Uint8Array;
  kek: CryptoKey;
}

/** Password + the server's KDF record -> auth key (to send) and the KEK (kept). */
export async function passwordKeys(kdfRecord: Uint8Array, password: string): Promise<PasswordKeys> {
  const params = parseKdfParams(kdfRecord); // KdfParamsError: refuse weak or absurd parameters
  return deriveUnlockKeys(password, params.salt, params.iterations);
}

/** The user's key material from /me, opened with the KEK. */
export async function openKeys(me: Me, kek: CryptoKey): Promise<UnlockedKeys> {
  return openWithUsk(me, await unwrapUskWithKekAsKey(me.wrappedUsk, kek, me.userId));
}

/**
 * "Remember this device": unwrap the USK once as bytes, store it wrapped by a non-extractable
 * device key in IndexedDB (deviceStore.ts), zero the bytes. False when this browser cannot keep
 * keys (private modes): the caller then tells the person to use the password next time.
 */
export async function rememberDevice(me: Me, kek: CryptoKey): Promise<boolean> {
  const usk = await unwrapUskWithKek(me.wrappedUsk, kek, me.userId);
  try {
    return await rememberUsk(me.userId, usk);
  } finally {
    usk.fill(0);
  }
}

/** Unlock from the remembered device key, or null if there is none (or it no longer opens). */
export async function unlockRemembered(me: Me): Promise<UnlockedKeys | null> {
  const usk = await recallUsk(me.userId);
  if (usk === null) return null;
  try {
    return await openWithUsk(me, usk);
  } catch {
    // The account's keys changed (e.g. a password change re-wrapped them): forget and ask.
    await forgetUsk(me.userId);
    return null;
  }
}

export { forgetUsk };

export async function openWithUsk(me: Me, usk: CryptoKey): Promise<UnlockedKeys> {
  if (me.sealedPrivateKeys.length !== 160) throw new PrivateKeyUnsealError();
  const encryption = await unsealAccountKey(me.sealedPrivateKeys.subarray(0, 80), KeyPurpose.ENCRYPTION, usk, me.userId);
  const signing = await unsealAccountKey(me.sealedPrivateKeys.subarray(80), KeyPurpose.SIGNING, usk, me.userId);
  if (!equalBytes(encryption.publicKey, me.encryptionPublicKey) || !equalBytes(signing.publicKey, me.signingPublicKey)) {
    throw new PrivateKeyUnsealError();
  }
  return { userId: me.userId, usk, encryption, signing };
}
