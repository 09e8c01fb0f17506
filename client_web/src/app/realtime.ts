/**
 * Real-time events from the server (docs/api.md "Socket.IO"): one WebSocket connection per
 * signed-in tab, authenticated by the session cookie. The server puts the connection in the
 * user's own room and, for dermatologists, in their services' queue rooms, and emits `case`
 * (state changes), `queue` (triage queue changes), `message` (new envelopes) and
 * `patient_photos` (a patient sent photos through a one-time link) and `notice` (something
 * new for this person, no case named: notify.ts). Pages
 * subscribe and re-read what changed; the database replay (HTTP, or `sync`) stays the source
 * of truth, so a missed event only delays an update.
 */
import { type Socket, io } from "socket.io-client";

export type RealtimeEvent = "case" | "queue" | "message" | "receipt" | "typing" | "patient_photos" | "notice";
type Handler = (data: Record<string, unknown>) => void;

export class Realtime {
  private socket: Socket | null = null;
  private readonly handlers = new Map<RealtimeEvent, Set<Handler>>();
  // Case rooms this tab wants; re-joined after every reconnect (messages go to case rooms).
  private readonly rooms = new Set<string>();
  private readonly reconnectHandlers = new Set<() => void>();

  connect(): void {
    if (this.socket) return;
    const s = io({ path: "/socket.io/", transports: ["websocket"], withCredentials: true });
    for (const ev of ["case", "queue", "message", "receipt", "typing", "patient_photos", "notice"] as const) {
      s.on(ev, (data: unknown) => {
        const d = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : {};
        for (const h of this.handlers.get(ev) ?? []) h(d);
      });
    }
    // After a reconnect, tell every page to re-read (events may have been missed meanwhile).
    s.io.on("reconnect", () => {
      for (const id of this.rooms) s.emit("join", { case_id: id });
      for (const ev of ["case", "queue", "message"] as const) for (const h of this.handlers.get(ev) ?? []) h({});
      for (const f of this.reconnectHandlers) f();
    });
    this.socket = s;
  }

  onReconnect(f: () => void): () => void {
    this.reconnectHandlers.add(f);
    return () => this.reconnectHandlers.delete(f);
  }

  /** Join a case room (new messages, typing, receipts); the server checks membership. */
  join(caseId: string): () => void {
    this.rooms.add(caseId);
    this.socket?.emit("join", { case_id: caseId });
    return () => {
      this.rooms.delete(caseId);
      this.socket?.emit("leave", { case_id: caseId });
    };
  }

  /** Ephemeral "is typing" signal to the case room (never stored). */
  typing(caseId: string): void {
    this.socket?.emit("typing", { case_id: caseId });
  }

  /** Stored delivered/read receipt up to `seq` (the server only moves it forward). */
  receipt(caseId: string, kind: "delivered" | "read", seq: number): void {
    this.socket?.emit("receipt", { case_id: caseId, kind, seq });
  }

  disconnect(): void {
    this.rooms.clear();
    this.socket?.disconnect();
    this.socket = null;
  }

  on(ev: RealtimeEvent, h: Handler): () => void {
    if (!this.handlers.has(ev)) this.handlers.set(ev, new Set());
    this.handlers.get(ev)!.add(h);
    return () => this.handlers.get(ev)?.delete(h);
  }
}
