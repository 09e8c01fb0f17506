/**
 * Accepting an invite, client side (DESIGN.md section 4; docs/api.md "Invite and accept"):
 * everything the server stores is made here, so the password, the USK and the private keys
 * never leave the browser.
 *
 * password -> PBKDF2 (600,000) -> auth key (sent) + KEK; fresh USK wrapped under the KEK and
 * under the recovery key; two P-256 key pairs with private parts sealed under the USK (the
 * encryption record then the signing record). The returned session keys and KEK are
 * non-extractable (the KEK opens the USK again when a passkey must be added before signing in
 * finishes, pages/PasskeyEnrol.tsx); the raw USK, KEK and scalars are zeroed before returning.
 */
import {
  KeyPurpose,
  concatRecords,
  deriveLoginKeys,
  encodeKdfParams,
  generateKeyPair,
  generateUsk,
  importUsk,
  newSalt,
  sealPrivateKey,
  toAccountKey,
  wrapUskWithKek,
  wrapUskWithRecoveryKey,
} from "./cryptoFacade";
import { bs } from "../crypto/bytes";
import type { AcceptInvite } from "./api";
import type { UnlockedKeys } from "./session";

export async function enrol(
  p: { token: string; userId: string; loginName: string; displayName: string; password: string },
  recoverySecret: Uint8Array,
  iterations?: number,
): Promise<{ request: AcceptInvite; keys: UnlockedKeys; kek: CryptoKey }> {
  const salt = newSalt();
  const login = await deriveLoginKeys(p.password, salt, iterations);
  const usk = generateUsk();
  const enc = await generateKeyPair();
  const sig = await generateKeyPair();
  try {
    const request: AcceptInvite = {
      token: p.token,
      userId: p.userId,
      loginName: p.loginName,
      displayName: p.displayName,
      kdfParams: encodeKdfParams(salt, iterations),
      authKey: login.authKey,
      wrappedUsk: await wrapUskWithKek(usk, login.kek, p.userId),
      recoveryWrappedUsk: await wrapUskWithRecoveryKey(usk, recoverySecret, p.userId),
      encryptionPublicKey: enc.publicKey,
      signingPublicKey: sig.publicKey,
      sealedPrivateKeys: concatRecords(
        await sealPrivateKey(enc, KeyPurpose.ENCRYPTION, usk, p.userId),
        await sealPrivateKey(sig, KeyPurpose.SIGNING, usk, p.userId),
      ),
    };
    const keys: UnlockedKeys = {
      userId: p.userId,
      usk: await importUsk(usk),
      encryption: await toAccountKey(enc, KeyPurpose.ENCRYPTION),
      signing: await toAccountKey(sig, KeyPurpose.SIGNING),
    };
    const kek = await crypto.subtle.importKey("raw", bs(login.kek), { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
    return { request, keys, kek };
  } finally {
    usk.fill(0);
    enc.privateKey.fill(0);
    sig.privateKey.fill(0);
    login.kek.fill(0);
  }
}
