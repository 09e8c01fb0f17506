/**
 * Outgoing messages (DESIGN.md section 6: at-least-once delivery, exactly-once display). A
 * message is sealed once (fixed client message id and bytes), then sent until the server
 * acknowledges it; the server de-duplicates by client message id, so a resend after a lost
 * acknowledgement is harmless, and the thread shows messages by server seq, so nothing appears
 * twice. Items are kept in memory only (never in storage: clinical data), in order per tab.
 *
 * Retries: after a failure the outbox waits (1 s, doubling to 30 s) and flushes again; it also
 * flushes at once when the browser comes back online or the real-time connection reconnects.
 * A refusal that retrying cannot fix (a 4xx other than 408/429) marks the item failed and
 * moves on, so one bad message cannot block the others.
 *
 * Epochs (docs/protocol.md section 24): a message refused because the case needs (or has) a
 * newer key epoch (409 key_rotation_required / stale_epoch) keeps its failure code; once the
 * conversation is secured under the new epoch, the page reseals such items (same client
 * message id, same text, the new key and epoch) and the outbox sends them again. Nothing the
 * person wrote is lost, and nothing is sent under a key the removed person holds.
 */
import { ApiError } from "./api";

export interface OutboxItem {
  caseId: string;
  clientMsgId: string;
  envelope: Uint8Array;
  /** What the sender typed, to show it as "sending" meanwhile (never leaves this tab). */
  preview: string;
  /** SHA-256 chain hash of this envelope (the next message's previousHash). */
  hash: Uint8Array;
  failed: boolean;
  /** The server's error code when failed (e.g. key_rotation_required). */
  failure?: string;
}

/** Refusals that a reseal under the case's newer key epoch cures. */
export const EPOCH_REFUSALS: ReadonlySet<string> = new Set(["key_rotation_required", "stale_epoch"]);

export type Sender = (caseId: string, clientMsgId: string, envelope: Uint8Array) => Promise<unknown>;

export class Outbox {
  private queue: OutboxItem[] = [];
  private flushing = false;
  private delay = 1000;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly send: Sender,
    private readonly maxDelay = 30_000,
  ) {}

  get items(): readonly OutboxItem[] {
    return this.queue;
  }

  pending(caseId: string): OutboxItem[] {
    return this.queue.filter((i) => i.caseId === caseId);
  }

  /** Hash of the newest queued message of a case (to chain the next one), if any. */
  lastHash(caseId: string): Uint8Array | null {
    const mine = this.pending(caseId).filter((i) => !i.failed);
    return mine.length ? mine[mine.length - 1]!.hash : null;
  }

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  add(item: Omit<OutboxItem, "failed">): Promise<void> {
    this.queue.push({ ...item, failed: false });
    this.emit();
    return this.flush();
  }

  /** Try to deliver everything queued, in order; stops at the first transient failure. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      while (true) {
        const item = this.queue.find((i) => !i.failed);
        if (!item) break;
        try {
          await this.send(item.caseId, item.clientMsgId, item.envelope);
          this.queue = this.queue.filter((i) => i !== item);
          this.delay = 1000;
          this.emit();
        } catch (e) {
          if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) {
            item.failed = true;
            item.failure = e.code;
            this.emit();
            continue;
          }
          this.timer = setTimeout(() => void this.flush(), this.delay);
          this.delay = Math.min(this.delay * 2, this.maxDelay);
          break;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** The items of a case refused for its key epoch (to reseal after the rotation). */
  epochRefused(caseId: string): OutboxItem[] {
    return this.pending(caseId).filter((i) => i.failed && i.failure !== undefined && EPOCH_REFUSALS.has(i.failure));
  }

  /**
   * Reseal the epoch-refused items of a case, in order (`reseal` seals the same text under the
   * new key, chained after the previous one), and send them again.
   */
  async reseal(caseId: string, reseal: (item: OutboxItem) => Promise<{ envelope: Uint8Array; hash: Uint8Array }>): Promise<number> {
    const todo = this.epochRefused(caseId);
    for (const item of todo) {
      const fresh = await reseal(item);
      item.envelope = fresh.envelope;
      item.hash = fresh.hash;
      item.failed = false;
      delete item.failure;
    }
    if (todo.length > 0) {
      this.emit();
      await this.flush();
    }
    return todo.length;
  }

  /** Drop everything (logout). */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.emit();
  }

  private emit(): void {
    for (const f of this.listeners) f();
  }
}
