// What the engine is: loaded model, execution provider, the model list and model-switch progress.
import type { EngineEvents, EngineStatus, ModelEntry } from '../../../src-main/api/contract.js';
import { type ConnectionState, type Transport, toErrorValue } from '../transport/index.js';
import type { Toasts } from './toasts.svelte.js';
import { errorText } from '../util/hint.js';

export class EngineState {
  status = $state.raw<EngineStatus | null>(null);
  models = $state.raw<ModelEntry[]>([]);
  progress = $state.raw<EngineEvents['model.progress'] | null>(null);
  /** Model being switched to. */
  selecting = $state<string | null>(null);
  connection = $state<ConnectionState>('open');
  /** Fired after a model change, with the new model's name. */
  onModelChange?: (name: string) => void;

  constructor(
    private readonly transport: Transport,
    private readonly toasts: Toasts,
  ) {}

  get model(): EngineStatus['model'] {
    return this.status?.model ?? null;
  }

  init(): void {
    const { api } = this.transport;
    api.on('engine.status', (status) => this.setStatus(status));
    api.on('model.progress', (progress) => (this.progress = progress));
    if (this.transport.connection) {
      this.connection = this.transport.connection.state;
      this.transport.connection.onChange((state) => {
        this.connection = state;
        if (state === 'open') void this.refresh();
      });
    }
    void this.refresh();
  }

  private setStatus(status: EngineStatus): void {
    // A precision switch (fp32 ↔ int8) changes the model as much as a new name does.
    const identity = (s: EngineStatus | null | undefined): string | undefined => (s?.model ? `${s.model.name}\n${s.model.precision ?? 'fp32'}` : undefined);
    const before = identity(this.status);
    this.status = status;
    const after = status.model?.name;
    if (after && before && identity(status) !== before) this.onModelChange?.(after);
  }

  async refresh(): Promise<void> {
    try {
      this.setStatus(await this.transport.api.call('engine.status', {}));
      this.models = await this.transport.api.call('models.list', {});
    } catch (error) {
      const e = toErrorValue(error);
      if (e.code !== 'DISCONNECTED') this.toasts.push('error', 'Could not reach the engine', e.message);
    }
  }

  /** Loads `name`; `precision` int8 uses its quantised copy (offered only where one exists). */
  async select(name: string, precision: 'fp32' | 'int8' = 'fp32'): Promise<void> {
    if (this.selecting || (name === this.model?.name && precision === (this.model?.precision ?? 'fp32'))) return;
    this.selecting = name;
    this.progress = null;
    try {
      this.setStatus(await this.transport.api.call('models.select', precision === 'int8' ? { name, precision } : { name }));
      this.toasts.push('success', `${this.model?.title ?? name} loaded${precision === 'int8' ? ' (int8)' : ''}`, this.model?.epLabel);
    } catch (error) {
      const e = toErrorValue(error);
      this.toasts.push('error', `Could not load ${name}`, errorText(e));
    } finally {
      this.selecting = null;
      this.progress = null;
      try {
        this.models = await this.transport.api.call('models.list', {});
      } catch {
        // keep the old list
      }
    }
  }
}
