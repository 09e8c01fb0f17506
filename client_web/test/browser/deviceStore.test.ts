/**
 * "Remember this device" in a real browser (chromium project): the USK survives in IndexedDB
 * wrapped by a non-extractable device key, comes back as a non-extractable HKDF key that derives
 * the same keys, is bound to the user id, and is gone after forget (logout). Without IndexedDB
 * the fallback stores nothing and says so. Nothing is written to localStorage.
 */
import { describe, expect, it } from "vitest";
import { forgetUsk, recallUsk, rememberUsk } from "../../src/app/deviceStore";
import { KeyPurpose, generateKeyPair, sealPrivateKey, unsealPrivateKey } from "../../src/crypto/index";

describe("device key store", () => {
  it("remembers, recalls non-extractable, binds the user, forgets", async () => {
    const user = crypto.randomUUID();
    const usk = crypto.getRandomValues(new Uint8Array(32));
    const pair = await generateKeyPair();
    const sealed = await sealPrivateKey(pair, KeyPurpose.SIGNING, usk, user);
    localStorage.clear();

    expect(await rememberUsk(user, usk)).toBe(true);
    const key = await recallUsk(user);
    expect(key).not.toBeNull();
    expect(key!.extractable).toBe(false);
    const back = await unsealPrivateKey(sealed, KeyPurpose.SIGNING, key!, user);
    expect(back.privateKey).toEqual(pair.privateKey);

    // The stored device key itself is non-extractable.
    const raw = await new Promise<{ deviceKey: CryptoKey }>((resolve, reject) => {
      const r = indexedDB.open("dermline-device");
      r.onsuccess = () => {
        const g = r.result.transaction("keys").objectStore("keys").get(user);
        g.onsuccess = () => resolve(g.result);
        g.onerror = () => reject(g.error);
      };
    });
    expect(raw.deviceKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("raw", raw.deviceKey)).rejects.toThrow();

    // Another user id does not recall it, even when the record is copied under that id:
    // the user id is bound as AES-GCM associated data.
    const other = crypto.randomUUID();
    expect(await recallUsk(other)).toBeNull();
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.open("dermline-device");
      r.onsuccess = () => {
        const t = r.result.transaction("keys", "readwrite");
        t.objectStore("keys").put(raw, other);
        t.oncomplete = () => resolve();
        t.onerror = () => reject(t.error);
      };
    });
    expect(await recallUsk(other)).toBeNull();
    await forgetUsk(other);

    await forgetUsk(user);
    expect(await recallUsk(user)).toBeNull();
    expect(localStorage.length).toBe(0);
  });

  it("falls back to storing nothing when IndexedDB is unavailable", async () => {
    const broken = {
      open() {
        throw new DOMException("private mode", "InvalidStateError");
      },
    } as unknown as IDBFactory;
    const user = crypto.randomUUID();
    expect(await rememberUsk(user, new Uint8Array(32), broken)).toBe(false);
    expect(await recallUsk(user, broken)).toBeNull();
    await forgetUsk(user, broken);
  });
});
