/**
 * "Remember this device": the USK is kept in IndexedDB wrapped by a
 * device key that is itself a NON-EXTRACTABLE WebCrypto AES-256-GCM key stored in IndexedDB
 * (CryptoKey objects are structured-cloneable and stay non-extractable there), so script on
 * the page can use it but never read it, and a copied profile folder holds no usable key
 * material outside this browser's key store.
 *
 * Record: { deviceKey: CryptoKey, nonce, wrapped } with AAD "dermline/v1/device-usk" || 0x00 ||
 * user id, under the IndexedDB database "dermline-device", store "keys", key = user id.
 * Unwrapping uses unwrapKey straight into a non-extractable HKDF key: the USK's bytes are never
 * in JavaScript memory on the way back.
 *
 * Fallback: some browsers (private modes) refuse IndexedDB or refuse to store CryptoKeys.
 * `rememberUsk` then resolves to false and nothing is stored; the user signs in with the
 * password each time (the app says so). Nothing ever goes to localStorage. `forget` (logout)
 * deletes the record.
 */
import { bs, concat, requireLength } from "../crypto/bytes";
import { uuidBytes } from "../crypto/wire";

const DB = "dermline-device";
const STORE = "keys";
/** Version 2 added the `pins` store (src/app/pins.ts); an upgrade keeps the stored keys. */
const DB_VERSION = 2;
export const PINS_STORE = "pins";
const AAD_LABEL = new TextEncoder().encode("dermline/v1/device-usk\u0000");

interface DeviceRecord {
  deviceKey: CryptoKey;
  nonce: Uint8Array;
  wrapped: Uint8Array;
}

/** The device database with both stores (`keys` here, `pins` for src/app/pins.ts). */
export function openDb(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = factory.open(DB, DB_VERSION);
    req.onupgradeneeded = () => {
      for (const name of [STORE, PINS_STORE]) {
        if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB open failed"));
  });
}

export function tx<T>(db: IDBDatabase, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>, store = STORE): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const req = f(t.objectStore(store));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error ?? new Error("IndexedDB transaction failed"));
    t.onabort = () => reject(t.error ?? new Error("IndexedDB transaction aborted"));
  });
}

export function factoryOrNull(factory?: IDBFactory): IDBFactory | null {
  if (factory) return factory;
  return typeof indexedDB === "undefined" ? null : indexedDB;
}

/**
 * Store the USK (raw bytes, just unwrapped with the password) for this device. Returns false
 * if this browser cannot keep keys (the caller then does not offer "remembered" sign-in).
 * The caller zeroes `usk` afterwards.
 */
export async function rememberUsk(userId: string, usk: Uint8Array, factory?: IDBFactory): Promise<boolean> {
  requireLength("usk", usk, 32);
  const aad = concat(AAD_LABEL, uuidBytes("userId", userId));
  const idb = factoryOrNull(factory);
  if (idb === null) return false;
  try {
    const deviceKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "unwrapKey",
    ]);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const wrapped = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: bs(aad) }, deviceKey, bs(usk)),
    );
    const db = await openDb(idb);
    try {
      const rec: DeviceRecord = { deviceKey, nonce, wrapped };
      await tx(db, "readwrite", (s) => s.put(rec, userId));
    } finally {
      db.close();
    }
    return true;
  } catch {
    // IndexedDB unavailable or unable to clone CryptoKeys (private modes): no remembering.
    return false;
  }
}

/** The remembered USK as a non-extractable HKDF key, or null if none (or unusable). */
export async function recallUsk(userId: string, factory?: IDBFactory): Promise<CryptoKey | null> {
  const aad = concat(AAD_LABEL, uuidBytes("userId", userId));
  const idb = factoryOrNull(factory);
  if (idb === null) return null;
  try {
    const db = await openDb(idb);
    let rec: DeviceRecord | undefined;
    try {
      rec = (await tx(db, "readonly", (s) => s.get(userId))) as DeviceRecord | undefined;
    } finally {
      db.close();
    }
    if (!rec || !(rec.deviceKey instanceof CryptoKey)) return null;
    return await crypto.subtle.unwrapKey(
      "raw",
      bs(rec.wrapped),
      rec.deviceKey,
      { name: "AES-GCM", iv: bs(rec.nonce), additionalData: bs(aad) },
      "HKDF",
      false,
      ["deriveKey", "deriveBits"],
    );
  } catch {
    return null;
  }
}

/** Logout: delete this user's remembered key from the device. */
export async function forgetUsk(userId: string, factory?: IDBFactory): Promise<void> {
  const idb = factoryOrNull(factory);
  if (idb === null) return;
  try {
    const db = await openDb(idb);
    try {
      await tx(db, "readwrite", (s) => s.delete(userId));
    } finally {
      db.close();
    }
  } catch {
    // Nothing stored if IndexedDB is unavailable.
  }
}
