// A lesion study over the batch view's folder: start, progress and the table so far (events),
// pause/resume/cancel, export.
import type { FolderEntry, LesionStudyValue } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import type { Toasts } from './toasts.svelte.js';

export class LesionStudyState {
  value = $state.raw<LesionStudyValue | null>(null);
  starting = $state(false);

  constructor(
    private readonly transport: Transport,
    private readonly toasts: Toasts,
  ) {}

  /** Subscribes to progress events; returns the unsubscribe function. */
  listen(): () => void {
    return this.transport.api.on('lesion.progress', (value) => {
      if (!this.value || value.study === this.value.study) this.value = value;
    });
  }

  get active(): boolean {
    return this.value?.state === 'running' || this.value?.state === 'paused';
  }

  async start(folder: FolderEntry, blocks?: string[]): Promise<void> {
    if (this.starting || this.active) return;
    this.starting = true;
    try {
      this.value = await this.transport.api.call('lesion.start', blocks && blocks.length > 0 ? { folder: folder.folder, blocks } : { folder: folder.folder });
    } catch (error) {
      const e = toErrorValue(error);
      this.toasts.push('error', 'Could not start the lesion study', e.message);
    } finally {
      this.starting = false;
    }
  }

  async control(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    if (!this.value) return;
    try {
      this.value = await this.transport.api.call('lesion.control', { study: this.value.study, action });
    } catch (error) {
      this.toasts.push('error', `Could not ${action} the study`, toErrorValue(error).message);
    }
  }

  async export(format: 'csv' | 'json'): Promise<void> {
    if (!this.value) return;
    try {
      const file = await this.transport.api.call('lesion.export', { study: this.value.study, format });
      await this.transport.host.saveFile(file.fileName, file.data);
    } catch (error) {
      this.toasts.push('error', 'Export failed', toErrorValue(error).message);
    }
  }
}
