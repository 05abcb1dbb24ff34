// Class-specific explanations of the feature view's image (issue 10): the method and class chosen,
// the maps for all five stages (or the input), the faithfulness curves when measured, and the
// model's whole label set for the class search.
import type { ExplainMethodName, ExplainProgressValue, ExplainValue, FaithfulnessValue, ImageId, StageName } from '../../../src-main/api/contract.js';
import { type Transport, toErrorValue } from '../transport/index.js';

export const STAGE_METHOD_CHOICES: { id: ExplainMethodName; title: string }[] = [
  { id: 'gradcam', title: 'Grad-CAM' },
  { id: 'gradcam++', title: 'Grad-CAM++' },
  { id: 'xgradcam', title: 'XGrad-CAM' },
  { id: 'layercam', title: 'LayerCAM' },
  { id: 'hirescam', title: 'HiResCAM' },
  { id: 'eigencam', title: 'EigenCAM (not class-specific)' },
];
export const INPUT_METHOD_CHOICES: { id: ExplainMethodName; title: string }[] = [
  { id: 'saliency', title: 'Saliency' },
  { id: 'guided-backprop', title: 'Guided backprop' },
  { id: 'guided-gradcam', title: 'Guided Grad-CAM' },
  { id: 'integrated-gradients', title: 'Integrated gradients' },
  { id: 'smoothgrad', title: 'SmoothGrad' },
];
export const isStageChoice = (m: ExplainMethodName): boolean => STAGE_METHOD_CHOICES.some((c) => c.id === m);
export const methodTitle = (m: ExplainMethodName): string => [...STAGE_METHOD_CHOICES, ...INPUT_METHOD_CHOICES].find((c) => c.id === m)?.title ?? m;

export class ExplainState {
  image = $state<ImageId | null>(null);
  method = $state<ExplainMethodName>('gradcam');
  /** null: the image's top-1, set from the first answer. */
  classIndex = $state<number | null>(null);
  stage = $state<StageName>('layer4');
  value = $state.raw<ExplainValue | null>(null);
  loading = $state(false);
  error = $state<{ code: string; message: string } | null>(null);
  labels = $state.raw<string[]>([]);
  faithfulness = $state.raw<FaithfulnessValue | null>(null);
  measuring = $state(false);
  /** Integrated gradients' or SmoothGrad's runs so far, while one is computing. */
  progress = $state.raw<ExplainProgressValue | null>(null);
  /** How long the last answer took to arrive, and whether the engine served it from its cache. */
  lastMs = $state<number | null>(null);
  lastFromCache = $state(false);
  /** The method whose maps `value` holds (a cancelled switch goes back to it). */
  private shownMethod: ExplainMethodName = 'gradcam';
  private request = 0;
  private labelsFor = '';

  constructor(private readonly transport: Transport) {}

  /** Subscribes to progress events; returns the unsubscribe function. */
  listen(): () => void {
    return this.transport.api.on('explain.progress', (p) => {
      if (this.loading && p.image === this.image && p.method === this.method) this.progress = p;
    });
  }

  /** Stops the integrated gradients or SmoothGrad in progress; the previous maps stay. */
  cancel(): void {
    if (!this.image || !this.loading) return;
    void this.transport.api.call('explain.cancel', { image: this.image }).catch(() => undefined);
  }

  get current() {
    return this.value?.classes[0] ?? null;
  }

  open(image: ImageId, model: string): void {
    if (this.labelsFor !== model) {
      this.labelsFor = model;
      this.labels = [];
      void this.transport.api.call('explain.labels', {}).then(
        (r) => (this.labels = r.labels),
        () => (this.labelsFor = ''),
      );
    }
    if (this.image !== image) {
      this.image = image;
      this.classIndex = null;
      this.value = null;
    }
    void this.load();
  }

  close(): void {
    this.image = null;
    this.value = null;
    this.error = null;
    this.faithfulness = null;
    this.request++;
  }

  setMethod(method: ExplainMethodName): void {
    if (method === this.method) return;
    this.method = method;
    void this.load();
  }

  setClass(index: number): void {
    if (index === this.classIndex) return;
    this.classIndex = index;
    void this.load();
  }

  async measureFaithfulness(): Promise<void> {
    if (!this.image || this.classIndex === null) return;
    const request = this.request;
    this.measuring = true;
    try {
      const value = await this.transport.api.call('explain.get', { image: this.image, classes: [this.classIndex], methods: [this.method], faithfulness: true });
      if (request === this.request) this.faithfulness = value.classes[0]?.faithfulness?.[this.method] ?? null;
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.measuring = false;
    }
  }

  private async load(): Promise<void> {
    const image = this.image;
    if (!image) return;
    const request = ++this.request;
    const method = this.method;
    const start = performance.now();
    this.loading = true;
    this.progress = null;
    this.error = null;
    this.faithfulness = null;
    this.measuring = false;
    try {
      const value = await this.transport.api.call('explain.get', {
        image,
        methods: [method],
        ...(this.classIndex === null ? {} : { classes: [this.classIndex] }),
      });
      if (request !== this.request) return;
      this.value = value;
      this.shownMethod = method;
      this.classIndex = value.classes[0]?.index ?? null;
      this.lastMs = performance.now() - start;
      this.lastFromCache = value.fromCache === true;
    } catch (error) {
      if (request !== this.request) return;
      const e = toErrorValue(error);
      // Cancelled by the user: back to the maps still shown, no error.
      if (e.code === 'CANCELLED') this.method = this.shownMethod;
      else this.error = e;
    } finally {
      if (request === this.request) {
        this.loading = false;
        this.progress = null;
      }
    }
  }
}
