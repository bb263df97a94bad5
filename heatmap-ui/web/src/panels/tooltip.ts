// One floating tooltip element per panel, placed beside the cursor.

export class Tooltip {
  readonly el: HTMLElement;

  constructor(parent: HTMLElement) {
    this.el = document.createElement('div');
    this.el.className = 'tooltip';
    this.el.hidden = true;
    parent.append(this.el);
  }

  show(x: number, y: number, lines: string[]): void {
    this.el.textContent = '';
    for (const l of lines) {
      const d = document.createElement('div');
      d.textContent = l;
      this.el.append(d);
    }
    this.el.style.left = `${x + 12}px`;
    this.el.style.top = `${y + 12}px`;
    this.el.hidden = false;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
