/**
 * The unlocked key material of the signed-in user, held in memory only:
 * the USK as a non-extractable HKDF CryptoKey and the account private keys as non-extractable
 * WebCrypto keys. Nothing here is ever written to localStorage or logged. `lock()` drops every
 * key reference (the garbage collector reclaims them; JavaScript cannot wipe memory, see
 * docs/protocol.md limitations); the session re-locks after IDLE_LOCK_MS without activity.
 */
import type { AccountKey } from "../crypto/account";

export const IDLE_LOCK_MS = 15 * 60 * 1000;

/** sessionStorage key of the test hook below. */
export const IDLE_TEST_KEY = "dermline.test.idleLockMs";

/**
 * The idle time before re-locking. A test hook lets the end-to-end test shorten it (to
 * prove re-lock after idle without waiting 15 minutes) through sessionStorage. It can only make
 * the lock EARLIER (1 s to IDLE_LOCK_MS); anything else is ignored, so a page that sets it
 * cannot weaken key safety.
 */
export function idleLockMs(storage: Pick<Storage, "getItem"> | null): number {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(IDLE_TEST_KEY) ?? null;
  } catch {
    raw = null; // storage disabled: the default
  }
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 1000 && n < IDLE_LOCK_MS ? n : IDLE_LOCK_MS;
}

export type LockReason = "idle" | "user";

export interface UnlockedKeys {
  userId: string;
  usk: CryptoKey;
  encryption: AccountKey;
  signing: AccountKey;
}

type Listener = (locked: boolean, reason: LockReason | null) => void;

export class Session {
  private keys: UnlockedKeys | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly idleMs: number = IDLE_LOCK_MS) {}

  get locked(): boolean {
    return this.keys === null;
  }

  get unlocked(): UnlockedKeys | null {
    return this.keys;
  }

  unlock(keys: UnlockedKeys): void {
    for (const k of [keys.usk, keys.encryption.privateKey, keys.signing.privateKey]) {
      if (k.extractable) throw new TypeError("session keys must be non-extractable");
    }
    this.keys = keys;
    this.touch();
    this.emit(null);
  }

  /** Call on user activity; restarts the idle timer. */
  touch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.keys !== null) this.timer = setTimeout(() => this.lock("idle"), this.idleMs);
  }

  /** Drop every key reference (sign out, idle, or the user locking). */
  lock(reason: LockReason = "user"): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const had = this.keys !== null;
    this.keys = null;
    this.emit(had ? reason : null);
  }

  subscribe(f: Listener): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(reason: LockReason | null): void {
    for (const f of this.listeners) f(this.locked, reason);
  }
}
