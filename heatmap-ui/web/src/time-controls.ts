// The explorer's time controls: the range (presets, plus whatever a zoom chose) and the
// end of the range, an absolute local time or "now" (an empty box). They hold the
// user's choice; what it means for the graph is `timerange.ts`'s.

import { parseDuration } from './format';
import { formatDuration, fromLocalInput, RANGES, toLocalInput, type TimeChoice } from './timerange';

export class TimeControls {
  readonly root: HTMLElement;
  private readonly rangeSel: HTMLSelectElement;
  private readonly endInput: HTMLInputElement;
  private current: TimeChoice;

  /** `onChange` is called when the user changes either control (not on `set`). */
  constructor(initial: TimeChoice, onChange: (c: TimeChoice) => void) {
    this.root = document.createElement('span');
    this.root.className = 'time-controls';
    this.root.innerHTML = `
      <label>Range <select class="range"></select></label>
      <label>End <input type="datetime-local" step="1" class="end" title="End of the range, in local time; empty: now"></label>
      <button class="end-now" title="End the range now">now</button>`;
    this.rangeSel = this.root.querySelector('select.range')!;
    this.endInput = this.root.querySelector('input.end')!;
    this.current = initial;
    this.show();
    this.rangeSel.addEventListener('change', () => {
      this.current = { ...this.current, range: parseDuration(this.rangeSel.value) ?? this.current.range };
      onChange(this.current);
    });
    this.endInput.addEventListener('change', () => {
      const end = fromLocalInput(this.endInput.value);
      // A browser's datetime-local box holds a valid time or nothing; anything else is
      // left as it was.
      if (end === undefined) return this.show();
      this.current = { ...this.current, end };
      onChange(this.current);
    });
    this.root.querySelector('button.end-now')!.addEventListener('click', () => {
      this.current = { ...this.current, end: null };
      this.show();
      onChange(this.current);
    });
  }

  get choice(): TimeChoice {
    return this.current;
  }

  /** Shows `c` (a zoom, live returning to now) without calling `onChange`. */
  set(c: TimeChoice): void {
    this.current = c;
    this.show();
  }

  private show(): void {
    const label = formatDuration(this.current.range);
    const options = RANGES.some((r) => parseDuration(r) === this.current.range) ? RANGES : [label, ...RANGES];
    this.rangeSel.textContent = '';
    for (const o of options) this.rangeSel.add(new Option(o, o, false, parseDuration(o) === this.current.range));
    this.endInput.value = this.current.end === null ? '' : toLocalInput(this.current.end);
    this.root.dataset.end = this.current.end === null ? 'now' : String(this.current.end);
  }
}
