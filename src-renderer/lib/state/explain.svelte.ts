// Class-specific explanations of the feature view's image (issue 10): the method and class chosen,
// the maps for all five stages (or the input), the faithfulness curves when measured, and the
// model's whole label set for the class search.
import type { ExplainMethodName, ExplainValue, FaithfulnessValue, ImageId, StageName } from '../../../src-main/api/contract.js';
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
  private request = 0;
  private labelsFor = '';

  constructor(private readonly transport: Transport) {}

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
    this.loading = true;
    this.error = null;
    this.faithfulness = null;
    this.measuring = false;
    try {
      const value = await this.transport.api.call('explain.get', { image, methods: [this.method], ...(this.classIndex === null ? {} : { classes: [this.classIndex] }) });
      if (request !== this.request) return;
      this.value = value;
      this.classIndex = value.classes[0]?.index ?? null;
    } catch (error) {
      if (request === this.request) this.error = toErrorValue(error);
    } finally {
      if (request === this.request) this.loading = false;
    }
  }
}
