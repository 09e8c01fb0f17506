/**
 * The unlocked key material of the signed-in user, held in memory only (issue 5, "Key safety"):
 * the USK as a non-extractable HKDF CryptoKey and the account private keys as non-extractable
 * WebCrypto keys. Nothing here is ever written to localStorage or logged. `lock()` drops every
 * key reference (the garbage collector reclaims them; JavaScript cannot wipe memory, see
 * docs/protocol.md limitations); the session re-locks after IDLE_LOCK_MS without activity.
 */
import type { AccountKey } from "../crypto/account";

export const IDLE_LOCK_MS = 15 * 60 * 1000;

export interface UnlockedKeys {
  userId: string;
  usk: CryptoKey;
  encryption: AccountKey;
  signing: AccountKey;
}

type Listener = (locked: boolean) => void;

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
    this.emit();
  }

  /** Call on user activity; restarts the idle timer. */
  touch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.keys !== null) this.timer = setTimeout(() => this.lock(), this.idleMs);
  }

  lock(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.keys = null;
    this.emit();
  }

  subscribe(f: Listener): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(): void {
    for (const f of this.listeners) f(this.locked);
  }
}
