// The live stream: one Server-Sent Events connection per view carrying all its queries
// (`/api/ui/live`). Each `tick` event holds the newest step of every query, in order.
// After a drop (server restart, network error) the stream reconnects by itself; on the
// first event of the new connection the view is told the time of the last tick it saw,
// so that it backfills the gap with a range query before appending again. A view that
// says up to when it has loaded is told so on the first connection too: loading its
// panels may take longer than a step, and the steps between the load and the first tick
// are filled the same way. The stream
// ticks on the view's step (1 s up to a 15-minute range, coarser beyond, as its range
// queries), so that ticks land on the grid of the `query_range` result they extend.

export interface TickPoint {
  metric: Record<string, string>;
  value: string;
}
export interface TickResult {
  data?: TickPoint[];
  error?: string;
  errorType?: string;
}
export interface TickEvent {
  t: number;
  results: TickResult[];
}

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'off';

export interface LiveHandlers {
  onTick(ev: TickEvent): void;
  /**
   * Called once a dropped stream is back, with the last tick seen before the drop; and on
   * the first connection with the time the view was loaded up to, if it was given.
   */
  onResume(lastT: number): void;
}

export class LiveStream {
  private es: EventSource | null = null;
  private lastT: number | null = null;
  /** A backfill is due at the next `hello`: after a drop, or for a view loaded earlier. */
  private owesBackfill = false;
  private closed = false;
  private retryTimer: number | undefined;

  constructor(
    private readonly queries: string[],
    private readonly handlers: LiveHandlers,
    /** Seconds between ticks: the step of the view's range queries. */
    private readonly step = 1,
    /** The newest step the view's range queries hold, if it has any. */
    loadedUpTo?: number,
  ) {
    if (loadedUpTo !== undefined) {
      this.lastT = loadedUpTo;
      this.owesBackfill = true;
    }
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    setLiveState('connecting');
    const params = new URLSearchParams();
    for (const q of this.queries) params.append('query', q);
    if (this.step !== 1) params.set('step', `${this.step}s`);
    const es = new EventSource(`/api/ui/live?${params}`);
    this.es = es;
    es.addEventListener('hello', () => {
      setLiveState('live');
      if (this.owesBackfill && this.lastT !== null) this.handlers.onResume(this.lastT);
      this.owesBackfill = false;
    });
    es.addEventListener('tick', (e) => {
      let ev: TickEvent;
      try {
        ev = JSON.parse((e as MessageEvent<string>).data) as TickEvent;
      } catch {
        return;
      }
      this.lastT = ev.t;
      this.handlers.onTick(ev);
    });
    es.onerror = () => {
      this.owesBackfill = true;
      setLiveState('reconnecting');
      // The browser retries by itself unless the answer was not an event stream (e.g. a
      // 502 from a proxy while the server restarts); then a new stream is opened.
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        this.retryTimer = window.setTimeout(() => this.connect(), 1000);
      }
    };
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.retryTimer);
    this.es?.close();
    setLiveState('off');
  }
}

/** Shown in the header and readable by tests as `body[data-live]`. */
export function setLiveState(state: LiveState): void {
  document.body.dataset.live = state;
  const el = document.getElementById('live-state');
  if (el) {
    el.textContent = state === 'off' ? '' : state === 'live' ? '● live' : `○ ${state}…`;
    el.className = `live-state ${state}`;
  }
}
