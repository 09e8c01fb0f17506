/**
 * In-page notifications (docs/architecture.md, "Notifications"): the server's `notice`
 * event carries one of its fixed sentences ("A new reply in one of your cases") and never a
 * case, a name or content. On each notice this page:
 *
 * - counts it in the tab title, "(2) Your cases – Dermline", while the page is hidden,
 *   and clears the count when the page is seen again;
 * - announces it in a polite live region (screen readers);
 * - plays a short tone if the person chose a sound (the setting is theirs, on the server);
 * - shows a browser notification with the same sentence when the page is hidden and the
 *   person allowed notifications (tag "dermline": it replaces a push notification of the
 *   service worker rather than doubling it).
 */
import type { Realtime } from "./realtime";

const TITLE_COUNT = /^\(\d+\) /;

export class Notifier {
  private unread = 0;
  private sound = false;
  private observer: MutationObserver | null = null;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly realtime: Realtime,
    private readonly announce: (text: string) => void,
  ) {}

  start(): void {
    if (this.offs.length > 0) return;
    this.offs.push(this.realtime.on("notice", (d) => this.notice(typeof d.text === "string" ? d.text : "")));
    const seen = () => {
      if (document.visibilityState === "visible") this.setUnread(0);
    };
    document.addEventListener("visibilitychange", seen);
    this.offs.push(() => document.removeEventListener("visibilitychange", seen));
    // Pages set their own titles (usePageTitle); keep the count in front of whatever they set.
    const title = document.querySelector("title");
    if (title) {
      this.observer = new MutationObserver(() => this.applyTitle());
      this.observer.observe(title, { childList: true, characterData: true, subtree: true });
    }
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.observer?.disconnect();
    this.observer = null;
    this.setUnread(0);
  }

  setSound(on: boolean): void {
    this.sound = on;
  }

  get count(): number {
    return this.unread;
  }

  private notice(text: string): void {
    if (!text) return;
    this.announce(text);
    if (this.sound) playTone();
    if (document.visibilityState !== "visible") {
      this.setUnread(this.unread + 1);
      if (typeof Notification !== "undefined" && Notification.permission === "granted") {
        try {
          new Notification("Dermline", { body: text, tag: "dermline", icon: "/icons/icon-192.png" });
        } catch {
          // some mobile browsers allow notifications from the service worker only
        }
      }
    }
  }

  private setUnread(n: number): void {
    this.unread = n;
    this.applyTitle();
  }

  private applyTitle(): void {
    const base = document.title.replace(TITLE_COUNT, "");
    const want = this.unread > 0 ? `(${this.unread}) ${base}` : base;
    if (document.title !== want) document.title = want;
  }
}

/** A short soft tone (Web Audio; no sound file to fetch). */
function playTone(): void {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 660;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.4);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
    osc.onended = () => void ctx.close();
  } catch {
    // no audio: the live region and the title still tell
  }
}
