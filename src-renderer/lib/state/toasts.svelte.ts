export interface Toast {
  id: number;
  kind: 'error' | 'info' | 'success';
  title: string;
  detail?: string;
}

export class Toasts {
  items = $state<Toast[]>([]);
  private nextId = 1;

  push(kind: Toast['kind'], title: string, detail?: string, ms = kind === 'error' ? 9000 : 4500): void {
    const id = this.nextId++;
    this.items.push({ id, kind, title, ...(detail ? { detail } : {}) });
    if (this.items.length > 4) this.items.splice(0, this.items.length - 4);
    setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number): void {
    const i = this.items.findIndex((t) => t.id === id);
    if (i >= 0) this.items.splice(i, 1);
  }
}
