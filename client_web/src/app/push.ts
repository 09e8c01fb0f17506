/**
 * Web Push on this device (docs/api.md, "Notifications"): subscribe through the service
 * worker's PushManager with the server's VAPID key, register the subscription with the
 * server, and remove it again (also on sign-out, so a shared device stops receiving the
 * previous person's notices). What a push holds: a fixed sentence and a counter (sw.js).
 */
import { call } from "./call";

const KEY = "dermline.pushSubscription";

export interface NotificationPrefs {
  sound: boolean;
  email: boolean;
  emailAvailable: boolean;
  subscriptionIds: string[];
}

function prefsOf(r: Record<string, unknown>): NotificationPrefs {
  const subs = Array.isArray(r.subscriptions) ? (r.subscriptions as { subscription_id: string }[]) : [];
  return {
    sound: r.sound === true,
    email: r.email === true,
    emailAvailable: r.email_available === true,
    subscriptionIds: subs.map((s) => String(s.subscription_id)),
  };
}

export const notificationApi = {
  async get(): Promise<NotificationPrefs> {
    return prefsOf(await call("GET", "/notifications/settings"));
  },
  async put(sound: boolean, email: boolean): Promise<NotificationPrefs> {
    return prefsOf(await call("PUT", "/notifications/settings", { sound, email }));
  },
};

export function pushSupported(): boolean {
  return typeof window !== "undefined" && window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window && typeof Notification !== "undefined";
}

/** The id of this device's subscription, if this browser registered one. */
export function deviceSubscriptionId(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function b64urlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Ask permission, subscribe, register with the server. Throws Error with a message for
 * the person when something stops it. */
export async function enablePush(): Promise<void> {
  if (!pushSupported()) throw new Error("This browser cannot show notifications from Dermline.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error("Notifications are blocked for Dermline in this browser. Allow them in the browser's site settings, then try again.");
  const key = String((await call("GET", "/notifications/push-key")).public_key);
  const reg = await navigator.serviceWorker.ready;
  let sub: PushSubscription;
  try {
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(key) });
  } catch {
    throw new Error("This browser could not reach its push service. Check the connection and try again.");
  }
  const r = await call("POST", "/notifications/subscriptions", sub.toJSON());
  try {
    localStorage.setItem(KEY, String(r.subscription_id));
  } catch {
    // not remembered: turning it off later removes the browser's side only
  }
}

/** Remove this device's subscription (server and browser). Never throws. */
export async function disablePush(): Promise<void> {
  const id = deviceSubscriptionId();
  try {
    localStorage.removeItem(KEY);
  } catch {
    // ignore
  }
  if (id) await call("DELETE", `/notifications/subscriptions/${encodeURIComponent(id)}`).catch(() => undefined);
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    await (await reg?.pushManager.getSubscription())?.unsubscribe();
  } catch {
    // no service worker or no subscription
  }
}
