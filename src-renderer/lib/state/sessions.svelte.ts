// History: the batch runs the engine kept (sessions.list), reopened, resumed ("only new files") or
// retried (failed files again). Showing another run replaces the results on screen, so it asks first.
import type { SessionValue } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import type { BatchState } from './batch.svelte.js';
import type { ConfirmState } from './confirm.svelte.js';
import type { Toasts } from './toasts.svelte.js';

const NOT_AVAILABLE = /not available in this build/i;

export class SessionsState {
  list = $state.raw<SessionValue[]>([]);
  notice = $state<string | null>(null);
  loaded = $state(false);
  /** The run a button is working on. */
  busy = $state<string | null>(null);
  unavailable = $state(false);
  private refreshTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly transport: Transport,
    private readonly batch: BatchState,
    private readonly confirm: ConfirmState,
    private readonly toasts: Toasts,
  ) {}

  init(): void {
    // A run that starts, ends or pauses changes the list: refreshed shortly after (one call for a burst).
    let lastState = '';
    this.transport.api.on('batch.progress', (summary) => {
      const key = `${summary.batch}:${summary.state}`;
      if (key === lastState) return;
      lastState = key;
      clearTimeout(this.refreshTimer);
      this.refreshTimer = setTimeout(() => void this.refresh(), 300);
    });
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const value = await this.transport.api.call('sessions.list', {});
      this.list = value.sessions;
      this.notice = value.notice;
    } catch (error) {
      if (NOT_AVAILABLE.test(toErrorValue(error).message)) this.unavailable = true;
    } finally {
      this.loaded = true;
    }
  }

  /** True when results of another run are on screen and would be replaced (asks the user first). */
  async mayReplace(batch: string | null, action: string): Promise<boolean> {
    const shown = this.batch.summary;
    if (!shown || shown.batch === batch || shown.done === 0) return true;
    if (this.batch.active) {
      this.toasts.push('info', 'A batch is running', 'Pause or cancel it before showing another run.');
      return false;
    }
    return this.confirm.ask({
      title: 'Replace the results on screen?',
      body: `${action} replaces the ${shown.done} results shown now. They stay in History: you can reopen them at any time.`,
      confirm: action,
    });
  }

  async open(session: SessionValue): Promise<void> {
    if (!(await this.mayReplace(session.batch, 'Open this run'))) return;
    await this.act(session.batch, 'Could not open the run', async () => {
      this.batch.adopt(await this.transport.api.call('sessions.open', { batch: session.batch }));
    });
  }

  async resume(session: SessionValue, retryFailed: boolean): Promise<void> {
    const action = retryFailed ? 'Retry failed' : 'Resume';
    if (!(await this.mayReplace(session.batch, action))) return;
    await this.act(session.batch, `Could not ${action.toLowerCase()}`, async () => {
      this.batch.adopt(await this.transport.api.call('batch.resume', { batch: session.batch, retryFailed }));
    });
  }

  async forget(session: SessionValue): Promise<void> {
    const yes = await this.confirm.ask({
      title: 'Forget this run?',
      body: `Its results (${session.done} images) are removed from History. The photos in ${session.folder} are not touched.`,
      confirm: 'Forget',
    });
    if (!yes) return;
    await this.act(session.batch, 'Could not forget the run', async () => {
      await this.transport.api.call('sessions.forget', { batch: session.batch });
    });
  }

  private async act(batch: string, title: string, work: () => Promise<void>): Promise<void> {
    this.busy = batch;
    try {
      await work();
    } catch (error) {
      const e = toErrorValue(error);
      this.toasts.push('error', title, `${e.code}: ${e.message}`);
    } finally {
      this.busy = null;
      void this.refresh();
    }
  }
}
