// "Are you sure?" before something replaces what the user is looking at (a new batch over shown
// results, reopening another run). One question at a time; ConfirmDialog.svelte presents it.
export interface Question {
  title: string;
  body: string;
  confirm: string;
}

export class ConfirmState {
  pending = $state.raw<(Question & { answer: (yes: boolean) => void }) | null>(null);

  ask(question: Question): Promise<boolean> {
    this.pending?.answer(false);
    return new Promise((resolve) => {
      this.pending = {
        ...question,
        answer: (yes) => {
          this.pending = null;
          resolve(yes);
        },
      };
    });
  }
}
