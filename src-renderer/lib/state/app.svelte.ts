// The page's state, created once and shared through Svelte context.
import { getContext, setContext } from 'svelte';
import type { Transport } from '../transport/index.js';
import { BatchState } from './batch.svelte.js';
import { CompareState } from './compare.svelte.js';
import { EngineState } from './engine.svelte.js';
import { ExplainState } from './explain.svelte.js';
import { FeatureState } from './features.svelte.js';
import { ImagesState } from './images.svelte.js';
import { Toasts } from './toasts.svelte.js';
import { UiState } from './ui.svelte.js';
import { ConfirmState } from './confirm.svelte.js';
import { SessionsState } from './sessions.svelte.js';
import { ResultsGalleryState } from './gallery.svelte.js';

export class AppState {
  readonly toasts = new Toasts();
  readonly ui = new UiState();
  readonly engine: EngineState;
  readonly images: ImagesState;
  readonly features: FeatureState;
  readonly batch: BatchState;
  readonly explain: ExplainState;
  // Gallery and History (issue 15).
  readonly confirm = new ConfirmState();
  readonly sessions: SessionsState;
  readonly gallery: ResultsGalleryState;
  /** Compare (issue 15): the feature view's second side. */
  readonly compare: CompareState;

  constructor(readonly transport: Transport) {
    this.engine = new EngineState(transport, this.toasts);
    this.images = new ImagesState(transport);
    this.features = new FeatureState(transport);
    this.batch = new BatchState(transport, this.toasts);
    this.explain = new ExplainState(transport);
    this.sessions = new SessionsState(transport, this.batch, this.confirm, this.toasts);
    this.gallery = new ResultsGalleryState(transport, this.features, this.toasts);
    this.compare = new CompareState(transport);
    this.images.setModelName(() => this.engine.model?.name ?? '');
    this.engine.onModelChange = () => {
      this.features.close();
      this.explain.close();
      this.compare.clear();
      this.images.reclassifyAll();
    };
  }

  init(): void {
    this.ui.init();
    this.engine.init();
    this.batch.init();
    this.sessions.init();
    void this.images.restore();
    this.transport.host.onCommand?.((command) => {
      switch (command.kind) {
        case 'images.added':
          this.ui.view = 'images';
          this.images.addGranted(command.images);
          break;
        case 'folder.picked':
          this.ui.view = 'batch';
          this.batch.setFolder(command.folder);
          break;
        case 'export':
          if (this.batch.summary) void this.batch.exportResults('csv');
          else this.toasts.push('info', 'Nothing to export yet', 'Run a batch first: its results can be exported as CSV, JSON or JSON Lines.');
          break;
        case 'theme':
          this.ui.setTheme(command.theme, false);
          break;
      }
    });
  }
}

const KEY = Symbol('reslens.app');
export const provideApp = (app: AppState): AppState => setContext(KEY, app);
export const useApp = (): AppState => getContext<AppState>(KEY);
