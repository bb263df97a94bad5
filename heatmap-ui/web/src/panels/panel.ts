// What every panel of a dashboard does, and the frame (title, error line) they share.

import type { PanelDef, RangeSeries } from '../api';
import type { TickResult } from '../live';

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

/** The first error among results, for a panel of several queries. */
export function firstError(results: TickResult[]): string | null {
  for (const r of results) if (r.error) return r.error;
  return null;
}

export type { RangeSeries };
