/**
 * What this browser pins (docs/protocol.md section 18, "What a client pins"): per signed-in
 * user, in the IndexedDB store `pins` of the `dermline-device` database (never localStorage),
 *
 * - the log key and the last tree head accepted (src/app/transparency.ts checks every new
 *   head against it);
 * - per organisation, its organisation key (OK): from the invite link's fragment for one's own
 *   organisation, on first use for others; a different OK later is a hard stop;
 * - per person, the signing and encryption public keys, whether an organisation certified them,
 *   whether the user verified them (safety number compared) and when they were first seen;
 * - per organisation, the records key and the highest records-key sequence accepted (null for a
 *   legacy key that no statement certifies).
 *
 * Rules (pure functions below, so they are tested without a browser):
 * - first contact pins silently: nothing is asked of a GP in a hurry;
 * - a changed key of an UNVERIFIED person blocks encrypting to them (and trusting what they
 *   sign) until the user accepts the change after looking at the safety number;
 * - a changed key of a VERIFIED person is a hard stop: accepting means comparing the safety
 *   number again (acceptChange with verified = true);
 * - a changed records key without a certified chain is a hard stop (never accepted here).
 *
 * The record holds public keys and names only; nothing clinical, nothing secret.
 */
import { equalBytes } from "./cryptoFacade";
import { PINS_STORE, factoryOrNull, openDb, tx } from "./deviceStore";

export interface PinnedKeys {
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
}

export interface PersonPin extends PinnedKeys {
  userId: string;
  /** The name last shown for them (for warnings; the server's display name). */
  name: string;
  /** The organisation whose key certified these keys (a verified log entry), or null. */
  certifiedBy: string | null;
  /** The user compared the safety number for these keys. */
  verified: boolean;
  firstSeenMs: number;
  /** Keys the server now lists for them that differ from the pinned ones, until accepted. */
  changed: (PinnedKeys & { seenMs: number; certifiedBy: string | null }) | null;
}

export interface OrgPin {
  orgId: string;
  name: string;
  orgPublicKey: Uint8Array;
  /** "invite": from this user's invite link fragment; "first_use": the first directory answer. */
  from: "invite" | "first_use";
  firstSeenMs: number;
}

export interface RecordsKeyPin {
  orgId: string;
  publicKey: Uint8Array;
  /** The statement sequence accepted; null for a legacy key no statement certifies. */
  sequence: number | null;
  firstSeenMs: number;
}

export interface LogPin {
  publicKey: Uint8Array;
  treeHead: Uint8Array;
}

/** A removal entry (0x03) this device read from the log itself (src/app/transparency.ts). */
export interface LoggedRemoval {
  index: number;
  userId: string;
  /** null: the whole account (disabled). */
  orgId: string | null;
  /** null: every role. */
  role: number | null;
}

export interface Pins {
  owner: string;
  log: LogPin | null;
  orgs: Record<string, OrgPin>;
  people: Record<string, PersonPin>;
  records: Record<string, RecordsKeyPin>;
  /** Removals read from the log entries after the first pinned head (absent in older records). */
  removals?: LoggedRemoval[];
}

export const emptyPins = (owner: string): Pins => ({ owner, log: null, orgs: {}, people: {}, records: {}, removals: [] });

/** A person as a directory or case answer lists them (facts checked by the caller). */
export interface ListedPerson extends PinnedKeys {
  userId: string;
  name: string;
  certifiedBy?: string | null;
}

/**
 * - first_use: never seen; now pinned.
 * - same: the pinned keys.
 * - changed: different keys for an unverified person: blocked until accepted.
 * - changed_verified: different keys for a verified person: a hard stop until verified again.
 */
export type KeyState = "first_use" | "same" | "changed" | "changed_verified";

export interface KeyCheck {
  userId: string;
  name: string;
  state: KeyState;
  pin: PersonPin;
}

const sameKeys = (a: PinnedKeys, b: PinnedKeys) =>
  equalBytes(a.signingPublicKey, b.signingPublicKey) && equalBytes(a.encryptionPublicKey, b.encryptionPublicKey);

/** Compare a listed person with the pins and record the outcome in `pins` (mutates it). */
export function observePerson(pins: Pins, p: ListedPerson, nowMs: number): KeyCheck {
  const old = pins.people[p.userId];
  const certifiedBy = p.certifiedBy ?? null;
  if (!old) {
    const pin: PersonPin = {
      userId: p.userId,
      name: p.name,
      signingPublicKey: p.signingPublicKey,
      encryptionPublicKey: p.encryptionPublicKey,
      certifiedBy,
      verified: false,
      firstSeenMs: nowMs,
      changed: null,
    };
    pins.people[p.userId] = pin;
    return { userId: p.userId, name: p.name, state: "first_use", pin };
  }
  old.name = p.name;
  if (sameKeys(old, p)) {
    // Back to the pinned keys (a server that stopped lying): the pending change is dropped.
    old.changed = null;
    if (certifiedBy !== null) old.certifiedBy = certifiedBy;
    return { userId: p.userId, name: p.name, state: "same", pin: old };
  }
  if (old.changed === null || !sameKeys(old.changed, p)) {
    old.changed = { signingPublicKey: p.signingPublicKey, encryptionPublicKey: p.encryptionPublicKey, seenMs: nowMs, certifiedBy };
  }
  return { userId: p.userId, name: p.name, state: old.verified ? "changed_verified" : "changed", pin: old };
}

/**
 * The user accepts the changed keys of a person (after the safety-number screen). For a person
 * whose old keys were verified this is only allowed together with verifying the new ones.
 */
export function acceptChange(pins: Pins, userId: string, verified: boolean, nowMs: number): PersonPin {
  const pin = pins.people[userId];
  if (!pin || pin.changed === null) throw new Error("no changed keys to accept");
  if (pin.verified && !verified) throw new Error("a verified person's new keys must be verified again");
  pin.signingPublicKey = pin.changed.signingPublicKey;
  pin.encryptionPublicKey = pin.changed.encryptionPublicKey;
  pin.certifiedBy = pin.changed.certifiedBy;
  pin.verified = verified;
  pin.firstSeenMs = nowMs;
  pin.changed = null;
  return pin;
}

/** The user compared the safety number of the pinned keys (no pending change). */
export function markVerified(pins: Pins, userId: string): PersonPin {
  const pin = pins.people[userId];
  if (!pin) throw new Error("no keys pinned for this person");
  if (pin.changed !== null) throw new Error("their keys have changed: accept the new keys instead");
  pin.verified = true;
  return pin;
}

/** The badge shown next to a person: certified, verified, or neither (first use). */
export function badge(pin: PersonPin): { text: string; tag: string } {
  if (pin.changed !== null) return { text: "Security keys changed", tag: "nhsuk-tag--red" };
  if (pin.verified) return { text: "Verified", tag: "nhsuk-tag--green" };
  if (pin.certifiedBy !== null) return { text: `Certified by ${pin.certifiedBy}`, tag: "nhsuk-tag--blue" };
  return { text: "Not verified", tag: "nhsuk-tag--grey" };
}

/** The warning naming a person whose keys changed (docs/protocol.md section 18). */
export function changeWarning(c: Pick<KeyCheck, "name" | "state">): string {
  return c.state === "changed_verified"
    ? `${c.name}'s security keys have changed since you verified them. Dermline will not send them anything until you compare your safety number again.`
    : `${c.name}'s security keys have changed. This can happen when they set up a new account, or it can mean someone is trying to read their messages. Dermline will not send them anything until you check the change.`;
}

export type RecordsState = "first_use" | "same" | "changed";

/**
 * A records key the client is about to wrap a case key to. First use pins it (with its
 * statement sequence, or null when no statement certifies it); the same key is fine; a
 * different key is "changed", which the caller treats as a hard stop unless it verified a
 * records-key chain from the pin (recordChain).
 */
export function observeRecordsKey(pins: Pins, orgId: string, publicKey: Uint8Array, sequence: number | null, nowMs: number): RecordsState {
  const old = pins.records[orgId];
  if (!old) {
    pins.records[orgId] = { orgId, publicKey, sequence, firstSeenMs: nowMs };
    return "first_use";
  }
  if (equalBytes(old.publicKey, publicKey)) {
    if (sequence !== null && (old.sequence === null || sequence > old.sequence)) old.sequence = sequence;
    return "same";
  }
  return "changed";
}

/** A records-key change proven by a verified chain that extends the pin: pin the new key. */
export function recordChain(pins: Pins, orgId: string, publicKey: Uint8Array, sequence: number, nowMs: number): void {
  const old = pins.records[orgId];
  if (old && old.sequence !== null && sequence < old.sequence) throw new Error("a records key chain cannot go back");
  pins.records[orgId] = { orgId, publicKey, sequence, firstSeenMs: nowMs };
}

/** Where pins live: IndexedDB in the browser, memory in tests. */
export interface PinBackend {
  get(owner: string): Promise<Pins | null>;
  put(pins: Pins): Promise<void>;
}

export function memoryPinBackend(): PinBackend {
  const m = new Map<string, Pins>();
  return {
    async get(owner) {
      const p = m.get(owner);
      return p ? structuredClone(p) : null;
    },
    async put(p) {
      m.set(p.owner, structuredClone(p));
    },
  };
}

/**
 * The IndexedDB backend. Without IndexedDB (some private modes) pins live only in memory for
 * this tab: first-use pinning still protects the session, and `persistent` says so.
 */
export function indexedDbPinBackend(factory?: IDBFactory): PinBackend & { persistent: boolean } {
  const idb = factoryOrNull(factory);
  const fallback = memoryPinBackend();
  const backend = {
    persistent: idb !== null,
    async get(owner: string): Promise<Pins | null> {
      if (idb === null) return fallback.get(owner);
      const db = await openDb(idb);
      try {
        return ((await tx(db, "readonly", (s) => s.get(owner), PINS_STORE)) as Pins | undefined) ?? null;
      } finally {
        db.close();
      }
    },
    async put(p: Pins): Promise<void> {
      if (idb === null) return fallback.put(p);
      const db = await openDb(idb);
      try {
        await tx(db, "readwrite", (s) => s.put(p, p.owner), PINS_STORE);
      } finally {
        db.close();
      }
    },
  };
  return backend;
}

/**
 * The signed-in user's pins with serialised read-modify-write updates (one at a time in this
 * tab, so two pages checking keys at once cannot lose a pin).
 */
export class PinStore {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly owner: string,
    private readonly backend: PinBackend,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<Pins> {
    await this.queue.catch(() => undefined);
    return (await this.backend.get(this.owner)) ?? emptyPins(this.owner);
  }

  /** Run `f` on the current pins and store the result; f's return value is returned. */
  update<T>(f: (pins: Pins, nowMs: number) => T): Promise<T> {
    const run = this.queue.catch(() => undefined).then(async () => {
      const pins = (await this.backend.get(this.owner)) ?? emptyPins(this.owner);
      const out = f(pins, this.now());
      await this.backend.put(pins);
      return out;
    });
    this.queue = run;
    return run.then((v) => {
      for (const l of this.listeners) l();
      return v;
    });
  }

  /** Check (and pin on first use) every listed person. */
  observe(people: readonly ListedPerson[]): Promise<KeyCheck[]> {
    return this.update((pins, now) => people.map((p) => observePerson(pins, p, now)));
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}

/** The people whose changed keys block sending (both kinds of change). */
export const blocked = (checks: readonly KeyCheck[]): KeyCheck[] => checks.filter((c) => c.state === "changed" || c.state === "changed_verified");
