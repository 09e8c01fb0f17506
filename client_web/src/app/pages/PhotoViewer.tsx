import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface ViewerPhoto {
  /** The full photo's attachment id (stable key). */
  id: string;
  /** Accessible name, e.g. "Close-up photo of left forearm". */
  name: string;
  /** Decrypts and returns a blob: URL of the full-size photo (the caller revokes it). */
  load: () => Promise<string>;
}

export const MIN_ZOOM = 1;
export const MAX_ZOOM = 8;

export interface View {
  zoom: number;
  x: number;
  y: number;
}

/** Zoom by `factor` keeping the point (cx, cy) (relative to the pane centre) still. */
export function zoomAt(v: View, factor: number, cx = 0, cy = 0): View {
  const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, v.zoom * factor));
  const k = zoom / v.zoom;
  if (zoom === MIN_ZOOM) return { zoom, x: 0, y: 0 };
  return { zoom, x: cx - (cx - v.x) * k, y: cy - (cy - v.y) * k };
}

/**
 * One zoomable, pannable photo. Touch: pinch with two fingers, drag with one. Desktop: wheel to
 * zoom at the pointer, drag to pan. Keyboard (the pane is focusable): + and - zoom, arrow keys
 * pan, 0 resets. Pointer events cover mouse, pen and touch alike; `touch-action: none` on the
 * pane stops the browser from scrolling the page instead.
 */
function ZoomPane({ photo, label }: { photo: ViewerPhoto; label: string }): JSX.Element {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  const [view, setView] = useState<View>({ zoom: 1, x: 0, y: 0 });
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const pinch = useRef<number | null>(null);
  const pane = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let made: string | null = null;
    let live = true;
    photo.load().then(
      (u) => {
        made = u;
        if (live) setUrl(u);
        else URL.revokeObjectURL(u);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [photo.id]);

  const centre = (clientX: number, clientY: number) => {
    const r = pane.current!.getBoundingClientRect();
    return [clientX - r.left - r.width / 2, clientY - r.top - r.height / 2] as const;
  };
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const [cx, cy] = centre(e.clientX, e.clientY);
    setView((v) => zoomAt(v, e.deltaY < 0 ? 1.25 : 0.8, cx, cy));
  };
  useEffect(() => {
    // A non-passive listener, so preventDefault stops the page from scrolling.
    const el = pane.current;
    el?.addEventListener("wheel", onWheel, { passive: false });
    return () => el?.removeEventListener("wheel", onWheel);
  }, [url]);
  const onDown = (e: PointerEvent) => {
    try {
      (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    } catch {
      // Not an active pointer (e.g. synthetic events): tracking still works without capture.
    }
    pointers.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
    pinch.current = null;
  };
  const onMove = (e: PointerEvent) => {
    const prev = pointers.current.get(e.pointerId);
    if (!prev) return;
    const next = { x: e.clientX, y: e.clientY };
    pointers.current.set(e.pointerId, next);
    const pts = [...pointers.current.values()];
    if (pts.length >= 2) {
      const [a, b] = pts as [{ x: number; y: number }, { x: number; y: number }];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (pinch.current !== null && pinch.current > 0) {
        const [cx, cy] = centre((a.x + b.x) / 2, (a.y + b.y) / 2);
        const f = d / pinch.current;
        setView((v) => zoomAt(v, f, cx, cy));
      }
      pinch.current = d;
    } else {
      setView((v) => (v.zoom > 1 ? { ...v, x: v.x + next.x - prev.x, y: v.y + next.y - prev.y } : v));
    }
  };
  const onUp = (e: PointerEvent) => {
    pointers.current.delete(e.pointerId);
    pinch.current = null;
  };
  const onKey = (e: KeyboardEvent) => {
    const step = 40;
    const k = e.key;
    if (k === "+" || k === "=") setView((v) => zoomAt(v, 1.25));
    else if (k === "-" || k === "_") setView((v) => zoomAt(v, 0.8));
    else if (k === "0") setView({ zoom: 1, x: 0, y: 0 });
    else if (k === "ArrowLeft") setView((v) => ({ ...v, x: v.x + step }));
    else if (k === "ArrowRight") setView((v) => ({ ...v, x: v.x - step }));
    else if (k === "ArrowUp") setView((v) => ({ ...v, y: v.y + step }));
    else if (k === "ArrowDown") setView((v) => ({ ...v, y: v.y - step }));
    else return;
    e.preventDefault();
  };

  return (
    <figure class="dl-viewer__pane">
      <div
        class="dl-viewer__stage"
        ref={pane}
        tabIndex={0}
        role="img"
        aria-label={`${photo.name}. Zoom ${Math.round(view.zoom * 100)}%. Use plus and minus to zoom, arrow keys to move.`}
        data-testid="viewer-stage"
        data-zoom={view.zoom.toFixed(2)}
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
        onPointerCancel={onUp}
        onKeyDown={onKey}
      >
        {failed ? (
          <p class="nhsuk-error-message">This photo could not be decrypted or has been altered.</p>
        ) : url ? (
          <img
            class="dl-viewer__img"
            src={url}
            alt=""
            draggable={false}
            data-testid="viewer-image"
            onError={() => setFailed(true)}
            style={{ transform: `translate(${view.x}px, ${view.y}px) scale(${view.zoom})` }}
          />
        ) : (
          <p>Decrypting the photo…</p>
        )}
      </div>
      <figcaption class="dl-viewer__caption">
        <span>{label}</span>
        <span class="dl-viewer__tools">
          <button type="button" class="dl-viewer__button" onClick={() => setView((v) => zoomAt(v, 1.25))}>
            Zoom in<span class="nhsuk-u-visually-hidden"> on {photo.name}</span>
          </button>
          <button type="button" class="dl-viewer__button" onClick={() => setView((v) => zoomAt(v, 0.8))}>
            Zoom out<span class="nhsuk-u-visually-hidden"> on {photo.name}</span>
          </button>
          <button type="button" class="dl-viewer__button" onClick={() => setView({ zoom: 1, x: 0, y: 0 })}>
            Reset<span class="nhsuk-u-visually-hidden"> {photo.name}</span>
          </button>
        </span>
      </figcaption>
    </figure>
  );
}

/**
 * Full-screen review: one photo, or two side by side (before and after, clinical
 * beside dermoscopic). A modal dialog: focus moves into it, Escape or "Close" returns focus to
 * where it was.
 */
export function PhotoViewer({ photos, onClose }: { photos: ViewerPhoto[]; onClose: () => void }): JSX.Element {
  const closeRef = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
      if (e.key !== "Tab" || !dialog.current) return;
      // Keep keyboard focus inside the modal dialog (WAI-ARIA dialog pattern): wrap around.
      const items = [...dialog.current.querySelectorAll<HTMLElement>("button, [tabindex='0']")];
      const first = items[0];
      const last = items[items.length - 1];
      if (!first || !last) return;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      } else if (!dialog.current.contains(document.activeElement)) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener("keydown", key);
    document.body.classList.add("dl-no-scroll");
    return () => {
      document.removeEventListener("keydown", key);
      document.body.classList.remove("dl-no-scroll");
      before?.focus();
    };
  }, []);
  const title = photos.length > 1 ? "Photos side by side" : "Photo";
  return (
    <div class="dl-viewer" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="dl-viewer-title" data-testid="photo-viewer">
      <div class="dl-viewer__bar">
        <h2 class="dl-viewer__title" id="dl-viewer-title">
          {title}
        </h2>
        <button type="button" class="dl-viewer__button" ref={closeRef} onClick={onClose}>
          Close
        </button>
      </div>
      <div class={`dl-viewer__panes${photos.length > 1 ? " dl-viewer__panes--two" : ""}`}>
        {photos.map((ph) => (
          <ZoomPane key={ph.id} photo={ph} label={ph.name} />
        ))}
      </div>
    </div>
  );
}
