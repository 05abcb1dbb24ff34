// Batch mode: one folder through the engine's streaming pipeline, with progress, pause/cancel and a
// results table that fills as rows arrive. Rows live in a plain array (10,000+ of them): the table
// re-reads it when `version` changes, at most a few times a second.
import type { BatchRow, BatchSummary, ErrorValue, FolderEntry, OrganizeValue } from '../../../src-main/api/contract.js';
import { ErrorCode } from '../../../src-main/api/vocabulary.js';
import { errorText } from '../util/hint.js';
import { type Transport, toErrorValue } from '../transport/index.js';
import type { Toasts } from './toasts.svelte.js';

/** The engine's organise report (a preview is its dry run: the same planner, nothing touched). */
export type OrganizeResult = OrganizeValue & { dryRun: boolean };

export type ExportFormat = 'csv' | 'json' | 'jsonl';

export class BatchState {
  folder = $state.raw<FolderEntry | null>(null);
  summary = $state.raw<BatchSummary | null>(null);
  /** Bumped when rows change; the table derives from it. */
  version = $state(0);
  starting = $state(false);
  exporting = $state(false);
  /** Set when this engine build has no batch support. */
  unavailable = $state<string | null>(null);
  error = $state<ErrorValue | null>(null);
  top = $state(5);
  /** "Run on workers": offered when the engine reports a batch queue (docs/queue.md). */
  onWorkers = $state(false);
  rows: (BatchRow | undefined)[] = [];
  /** Pause was clicked and the engine has not answered yet: already "Pausing…" (a loaded engine takes a moment). */
  private pauseAsked = $state(false);
  private bumpScheduled = false;

  constructor(
    private readonly transport: Transport,
    private readonly toasts: Toasts,
  ) {}

  get active(): boolean {
    return this.summary?.state === 'running' || this.summary?.state === 'paused';
  }

  /** Paused, or asked to be, while results of work already out still arrive. */
  get pausing(): boolean {
    return this.pauseAsked || this.summary?.pausing === true;
  }

  get filled(): number {
    let n = 0;
    for (const row of this.rows) if (row) n++;
    return n;
  }

  init(): void {
    const { api } = this.transport;
    api.on('batch.progress', (summary) => {
      if (!this.summary || summary.batch === this.summary.batch || (!this.active && summary.state === 'running')) {
        const adopted = this.summary?.batch !== summary.batch;
        if (adopted) this.resetRows();
        this.summary = summary;
        if (summary.state !== 'running' && summary.state !== 'paused') void this.fillGaps();
      }
    });
    api.on('batch.rows', ({ batch, offset, rows }) => {
      if (batch !== this.summary?.batch) return;
      for (let i = 0; i < rows.length; i++) this.rows[offset + i] = rows[i];
      this.scheduleBump();
    });
    void this.recover();
  }

  /** A reloaded page finds the run still going on the host (batch.list) and shows it again. */
  async recover(): Promise<void> {
    let list: BatchSummary[];
    try {
      list = await this.transport.api.call('batch.list', {});
    } catch {
      return; // an engine without batch.list: nothing to recover
    }
    const running = list.find((b) => b.state === 'running' || b.state === 'paused');
    if (!running || this.summary) return;
    this.resetRows();
    this.summary = running;
    void this.fillGaps();
  }

  /** Shows another run (a reopened or resumed session): its rows are fetched in pages. */
  adopt(summary: BatchSummary): void {
    this.resetRows();
    this.summary = summary;
    this.error = null;
    void this.loadAllRows();
  }

  /** Every row the engine has for the shown run (a reopened run has no events to bring them). */
  async loadAllRows(): Promise<void> {
    const batch = this.summary?.batch;
    if (!batch) return;
    try {
      for (let offset = 0; ;) {
        const page = await this.transport.api.call('batch.rows', { batch, offset, limit: 5000 });
        if (batch !== this.summary?.batch) return;
        for (let i = 0; i < page.rows.length; i++) this.rows[offset + i] ??= page.rows[i];
        offset += page.rows.length;
        if (page.rows.length === 0 || offset >= page.total) break;
      }
      this.version++;
    } catch (error) {
      this.fail('Could not load the results', error);
    }
  }

  private resetRows(): void {
    this.rows = [];
    this.version++;
  }

  private scheduleBump(): void {
    if (this.bumpScheduled) return;
    this.bumpScheduled = true;
    // A few table refreshes a second while thousands of rows stream in.
    setTimeout(() => {
      this.bumpScheduled = false;
      this.version++;
    }, 200);
  }

  private fail(title: string, error: unknown): void {
    const e = toErrorValue(error);
    if (e.code === ErrorCode.NOT_AVAILABLE) {
      this.unavailable = e.message;
      return;
    }
    this.error = e;
    this.toasts.push('error', title, errorText(e));
  }

  async chooseFolder(): Promise<void> {
    try {
      const folder = await this.transport.host.pickFolder();
      if (folder) this.folder = folder;
    } catch (error) {
      this.fail('Could not open the folder picker', error);
    }
  }

  setFolder(folder: FolderEntry): void {
    this.folder = folder;
  }

  async start(): Promise<void> {
    if (!this.folder || this.starting || this.active) return;
    this.starting = true;
    this.error = null;
    try {
      const summary = await this.transport.api.call('batch.start', { folder: this.folder.folder, top: this.top, ...(this.onWorkers ? { workers: true } : {}) });
      this.resetRows();
      this.summary = summary;
      this.unavailable = null;
    } catch (error) {
      this.fail('Could not start the batch', error);
    } finally {
      this.starting = false;
    }
  }

  async control(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    const batch = this.summary?.batch;
    if (!batch) return;
    this.pauseAsked = action === 'pause';
    try {
      this.summary = await this.transport.api.call('batch.control', { batch, action });
    } catch (error) {
      this.fail(`Could not ${action} the batch`, error);
    } finally {
      this.pauseAsked = false;
    }
  }

  /** Rows the events did not bring (a reconnect, a reload): fetched in pages once the batch ends. */
  async fillGaps(): Promise<void> {
    const batch = this.summary?.batch;
    if (!batch) return;
    try {
      let offset = 0;
      for (;;) {
        const total = this.summary ? this.summary.done : 0;
        while (offset < total && this.rows[offset]) offset++;
        if (offset >= total) break;
        const page = await this.transport.api.call('batch.rows', { batch, offset, limit: 5000 });
        // Another run may have been opened (History) while this page was on its way: never mix runs.
        if (batch !== this.summary?.batch) return;
        if (page.rows.length === 0) break;
        for (let i = 0; i < page.rows.length; i++) this.rows[offset + i] = page.rows[i];
        offset += page.rows.length;
      }
      this.version++;
    } catch (error) {
      const e = toErrorValue(error);
      if (e.code !== ErrorCode.NOT_AVAILABLE) console.warn('ResLens: could not fetch batch rows', e);
    }
  }

  async exportResults(format: ExportFormat): Promise<void> {
    const batch = this.summary?.batch;
    if (!batch || this.exporting) return;
    this.exporting = true;
    try {
      const file = await this.transport.api.call('batch.export', { batch, format });
      await this.transport.host.saveFile(file.fileName, file.data);
      this.toasts.push('success', `Exported ${file.fileName}`);
    } catch (error) {
      this.fail('Export failed', error);
    } finally {
      this.exporting = false;
    }
  }

  async organize(destination: FolderEntry, minProb: number, mode: 'copy' | 'link', dryRun: boolean): Promise<OrganizeResult | null> {
    const batch = this.summary?.batch;
    if (!batch) return null;
    try {
      const result = await this.transport.api.call('batch.organize', { batch, destination: destination.folder, minProb, mode, dryRun });
      return { ...result, dryRun };
    } catch (error) {
      this.fail('Organise failed', error);
      return null;
    }
  }
}
