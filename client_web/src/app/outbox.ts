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
}

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
