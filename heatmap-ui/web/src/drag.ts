// Dragging panels on the grid while editing: a grip in a panel's tool bar moves it to
// the place of the panel it is dropped on, a handle on its right edge resizes it by whole
// columns. Pointer events (mouse, pen and touch alike), captured by the handle so that
// the drag survives leaving it; the preview is drawn on the live grid and the change is
// handed to the draft only on release. Both handles are focusable and take the arrow
// keys, so that the keyboard does what the pointer does.

import { dropIndex, widthAt } from './grid';

export interface DragActions {
  /** Panel `from` takes the place of panel `to`. */
  move(from: number, to: number): void;
  /** Panel `i` spans `width` columns. */
  resize(i: number, width: number): void;
}

/** The grid's gap between columns, in pixels. */
function gapOf(grid: HTMLElement): number {
  return parseFloat(getComputedStyle(grid).columnGap) || 0;
}

/** The grip that moves panel `i` of `grid`; ←/→ move it by one place. */
export function moveGrip(grid: HTMLElement, i: number, actions: DragActions): HTMLElement {
  const grip = document.createElement('span');
  grip.className = 'drag-handle';
  grip.textContent = '⠿';
  grip.title = 'Drag to move (or focus and press ← →)';
  grip.tabIndex = 0;
  grip.setAttribute('role', 'button');
  grip.setAttribute('aria-label', 'Move panel');
  grip.addEventListener('keydown', (e) => {
    const by = e.key === 'ArrowLeft' ? -1 : e.key === 'ArrowRight' ? 1 : 0;
    if (!by) return;
    e.preventDefault();
    actions.move(i, i + by);
  });
  grip.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    grip.setPointerCapture(e.pointerId);
    const panels = [...grid.querySelectorAll<HTMLElement>(':scope > .panel')];
    const self = panels[i];
    self?.classList.add('dragging');
    let target: number | null = null;
    const mark = (to: number | null) => {
      if (to === target) return;
      if (target !== null) panels[target]?.classList.remove('drop-target');
      target = to;
      if (to !== null && to !== i) panels[to]?.classList.add('drop-target');
    };
    const onMove = (ev: PointerEvent) => {
      mark(dropIndex(panels.map((p) => p.getBoundingClientRect()), ev.clientX, ev.clientY));
    };
    const onUp = (ev: PointerEvent) => {
      onMove(ev);
      end();
      const to = target;
      mark(null);
      if (to !== null && to !== i) actions.move(i, to);
    };
    const end = () => {
      grip.removeEventListener('pointermove', onMove);
      grip.removeEventListener('pointerup', onUp);
      grip.removeEventListener('pointercancel', cancel);
      self?.classList.remove('dragging');
    };
    const cancel = () => {
      end();
      mark(null);
    };
    grip.addEventListener('pointermove', onMove);
    grip.addEventListener('pointerup', onUp);
    grip.addEventListener('pointercancel', cancel);
  });
  return grip;
}

/** The handle on the right edge of `panel` (panel `i` of `grid`, `width` columns wide). */
export function resizeHandle(grid: HTMLElement, panel: HTMLElement, i: number, width: number, actions: DragActions): HTMLElement {
  const handle = document.createElement('div');
  handle.className = 'resize-handle';
  handle.title = 'Drag to resize (or focus and press ← →)';
  handle.tabIndex = 0;
  handle.setAttribute('role', 'separator');
  handle.setAttribute('aria-orientation', 'vertical');
  handle.setAttribute('aria-label', 'Panel width');
  handle.setAttribute('aria-valuemin', '1');
  handle.setAttribute('aria-valuemax', '12');
  handle.setAttribute('aria-valuenow', String(width));
  handle.addEventListener('keydown', (e) => {
    const by = e.key === 'ArrowLeft' ? -1 : e.key === 'ArrowRight' ? 1 : 0;
    if (!by) return;
    e.preventDefault();
    actions.resize(i, width + by);
  });
  handle.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    handle.setPointerCapture(e.pointerId);
    // The panel's left edge and the grid's geometry when the drag starts: the preview
    // may wrap the panel to another row, which must not move the column count under
    // the pointer.
    const g = grid.getBoundingClientRect();
    const left = panel.getBoundingClientRect().left;
    const gap = gapOf(grid);
    let now = width;
    panel.classList.add('resizing');
    const onMove = (ev: PointerEvent) => {
      const w = widthAt(ev.clientX, left, g.left, g.width, gap);
      if (w === now) return;
      now = w;
      panel.style.gridColumn = `span ${w}`;
      panel.dataset.dragWidth = String(w);
    };
    const end = () => {
      handle.removeEventListener('pointermove', onMove);
      handle.removeEventListener('pointerup', onUp);
      handle.removeEventListener('pointercancel', cancel);
      panel.classList.remove('resizing');
      delete panel.dataset.dragWidth;
    };
    const onUp = (ev: PointerEvent) => {
      onMove(ev);
      end();
      if (now !== width) actions.resize(i, now);
    };
    const cancel = () => {
      end();
      panel.style.gridColumn = `span ${width}`;
    };
    handle.addEventListener('pointermove', onMove);
    handle.addEventListener('pointerup', onUp);
    handle.addEventListener('pointercancel', cancel);
  });
  return handle;
}
