// What every panel of a dashboard does, and the frame (title, error line) they share.

import { panelQueries, type PanelDef, type RangeSeries, type Result } from '../api';
import type { TickPoint, TickResult } from '../live';

export interface View {
  start: number;
  end: number;
  step: number;
  /** Seconds of history kept while live. */
  range: number;
}

export interface PanelView {
  readonly root: HTMLElement;
  /** The queries this panel subscribes to, in the order its tick results come. */
  queries(): string[];
  /** Loads (or reloads) the whole view. */
  load(view: View): Promise<void>;
  /** Adds the gap `[from, to]` after a reconnect. */
  backfill(from: number, to: number, step: number): Promise<void>;
  /** One live tick: `results[i]` belongs to `queries()[i]`. */
  tick(t: number, results: TickResult[]): void;
  destroy(): void;
}

export class Frame {
  readonly root: HTMLElement;
  readonly body: HTMLElement;
  readonly header: HTMLElement;
  private readonly errorEl: HTMLElement;

  constructor(def: PanelDef) {
    this.root = document.createElement('section');
    this.root.className = `panel panel-${def.type}`;
    this.root.style.gridColumn = `span ${Math.min(12, Math.max(1, def.width ?? 6))}`;
    this.root.dataset.type = def.type;
    this.root.dataset.title = def.title;
    // Which queries the panel runs, for a reader of the page (and its tests).
    this.root.dataset.queries = panelQueries(def).join('\n');
    this.header = document.createElement('h3');
    this.header.textContent = def.title;
    this.errorEl = document.createElement('div');
    this.errorEl.className = 'panel-error';
    this.errorEl.hidden = true;
    this.body = document.createElement('div');
    this.body.className = 'panel-body';
    this.root.append(this.header, this.errorEl, this.body);
  }

  /** Shows `msg` on this panel only; `null` clears it. */
  error(msg: string | null): void {
    if (msg === null) {
      if (!this.errorEl.hidden) {
        this.errorEl.hidden = true;
        this.errorEl.textContent = '';
        delete this.root.dataset.error;
      }
      return;
    }
    this.errorEl.hidden = false;
    this.errorEl.textContent = msg;
    this.root.dataset.error = msg;
  }
}

/**
 * What the panel types share: their frame, their queries (the panel's `expr` unless a
 * type says otherwise), and the first step of every load and tick — an error shows on
 * the panel and stops there, a success clears the last one.
 */
export abstract class BasePanel implements PanelView {
  protected readonly frame: Frame;

  constructor(protected readonly def: PanelDef) {
    this.frame = new Frame(def);
  }

  get root(): HTMLElement {
    return this.frame.root;
  }

  queries(): string[] {
    return [this.def.expr ?? ''];
  }

  /** The panel's one query. */
  protected get expr(): string {
    return this.def.expr ?? '';
  }

  abstract load(view: View): Promise<void>;

  /** Nothing to fill in by default: panels showing the newest value wait for the next tick. */
  async backfill(_from: number, _to: number, _step: number): Promise<void> {}

  abstract tick(t: number, results: TickResult[]): void;

  destroy(): void {}

  /** The data of an API answer, or `null` with its error shown on the panel. */
  protected settle<T>(r: Result<T>): T | null {
    if (!r.ok) {
      this.frame.error(r.error);
      return null;
    }
    this.frame.error(null);
    return r.data;
  }

  /**
   * The points of the panel's first query at a tick, or `null` when there is none or it
   * failed (the error then shows on the panel). Marks the tick as seen when it succeeds.
   */
  protected tickData(t: number, results: TickResult[]): TickPoint[] | null {
    const r = results[0];
    if (!r) return null;
    if (r.error) {
      this.frame.error(r.error);
      return null;
    }
    this.frame.error(null);
    this.root.dataset.lastTick = String(t);
    return r.data ?? [];
  }
}

/** The first error among results, for a panel of several queries. */
export function firstError(results: TickResult[]): string | null {
  for (const r of results) if (r.error) return r.error;
  return null;
}

export type { RangeSeries };
