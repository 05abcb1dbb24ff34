// SessionsState against a fake transport: History's runs reopened, resumed or retried replace the results
// on screen only after the user agrees, never while a batch runs; the run's rows come back; failures toast.
import { describe, expect, test } from 'vitest';
import type { SessionValue } from '../../../src-main/api/contract.js';
import { BatchState } from './batch.svelte.js';
import { ConfirmState } from './confirm.svelte.js';
import { SessionsState } from './sessions.svelte.js';
import { Toasts } from './toasts.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';
import { row, summary } from './testing/values.js';

const SHOWN = 'batch_shown0001';
const KEPT = 'batch_kept00001';
const kept: SessionValue = {
  batch: KEPT,
  folder: '/old',
  created: '',
  updated: '',
  model: 'resnet50',
  top: 5,
  mode: 'fast',
  state: 'done',
  done: 3,
  failed: 1,
  total: 3,
  live: false,
};

function setup() {
  const fake = new FakeTransport();
  fake.handle('batch.list', () => []);
  fake.handle('sessions.list', () => ({ sessions: [kept], notice: null }));
  fake.handle('sessions.open', ({ batch }) => summary(batch, 'done', 3, { total: 3 }));
  fake.handle('batch.resume', ({ batch }) => summary(batch, 'running', 3, { total: 5 }));
  fake.handle('batch.rows', ({ batch, offset }) => ({ rows: offset === 0 ? [0, 1, 2].map((i) => ({ ...row(i), path: `${batch}/${i}.jpg` })) : [], total: 3 }));
  const toasts = new Toasts();
  const confirm = new ConfirmState();
  const batch = new BatchState(fake, toasts);
  const sessions = new SessionsState(fake, batch, confirm, toasts);
  return { fake, toasts, confirm, batch, sessions };
}

describe('SessionsState', () => {
  test('reopening a run over finished results asks first; "no" leaves the results on screen, "yes" shows the kept run and its rows', async () => {
    const { fake, confirm, batch, sessions } = setup();
    batch.adopt(summary(SHOWN, 'done', 4));
    await settle();
    const opening = sessions.open(kept);
    await settle();
    expect(confirm.pending?.body).toContain('replaces the 4 results shown now');
    confirm.pending!.answer(false);
    await opening;
    expect(fake.callsOf('sessions.open')).toHaveLength(0);
    expect(batch.summary?.batch).toBe(SHOWN);

    const again = sessions.open(kept);
    await settle();
    confirm.pending!.answer(true);
    await again;
    await settle();
    expect(fake.callsOf('sessions.open')).toEqual([{ batch: KEPT }]);
    expect(batch.summary?.batch).toBe(KEPT);
    expect(batch.rows.map((r) => r?.path)).toEqual([0, 1, 2].map((i) => `${KEPT}/${i}.jpg`));
    expect(sessions.busy).toBeNull();
    expect(sessions.list).toEqual([kept]); // refreshed after the action
  });

  test('nothing to lose (no results shown, or the same run): no question; a running batch is never replaced', async () => {
    const { fake, confirm, batch, toasts, sessions } = setup();
    await sessions.resume(kept, true);
    expect(confirm.pending).toBeNull();
    expect(fake.callsOf('batch.resume')).toEqual([{ batch: KEPT, retryFailed: true }]);
    expect(batch.summary).toMatchObject({ batch: KEPT, state: 'running' });

    // KEPT now runs on screen: showing another run is refused with a note, without asking.
    await sessions.open({ ...kept, batch: 'batch_another01' });
    expect(confirm.pending).toBeNull();
    expect(fake.callsOf('sessions.open')).toHaveLength(0);
    expect(toasts.items.at(-1)).toMatchObject({ kind: 'info', title: 'A batch is running' });
  });

  test('a failed action toasts its code and message and frees the button', async () => {
    const { fake, toasts, sessions } = setup();
    fake.handle('sessions.open', () => Promise.reject(Object.assign(new Error('the journal is unreadable'), { code: 'READ_FAILED' })));
    await sessions.open(kept);
    expect(toasts.items.at(-1)).toMatchObject({ kind: 'error', title: 'Could not open the run', detail: 'READ_FAILED: the journal is unreadable' });
    expect(sessions.busy).toBeNull();
  });

  test('forget asks, then forgets by run id; an engine without kept sessions hides History', async () => {
    const { fake, confirm, sessions } = setup();
    fake.handle('sessions.forget', () => ({ forgotten: true }));
    const forgetting = sessions.forget(kept);
    await settle();
    expect(confirm.pending?.title).toBe('Forget this run?');
    confirm.pending!.answer(true);
    await forgetting;
    expect(fake.callsOf('sessions.forget')).toEqual([{ batch: KEPT }]);

    const bare = setup();
    bare.fake.handle('sessions.list', () => Promise.reject(Object.assign(new Error('sessions are not available in this build'), { code: 'NOT_AVAILABLE' })));
    await bare.sessions.refresh();
    expect(bare.sessions.unavailable).toBe(true);
    expect(bare.sessions.loaded).toBe(true);
  });

  test('a burst of progress events refreshes the list once, and only when a run changes state', async () => {
    const { fake, sessions } = setup();
    sessions.init();
    await settle();
    const before = fake.callsOf('sessions.list').length;
    for (let done = 0; done < 20; done++) fake.emit('batch.progress', summary(SHOWN, 'running', done));
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(fake.callsOf('sessions.list').length).toBe(before + 1);
    fake.emit('batch.progress', summary(SHOWN, 'running', 21));
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(fake.callsOf('sessions.list').length).toBe(before + 1);
    fake.emit('batch.progress', summary(SHOWN, 'done', 22));
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(fake.callsOf('sessions.list').length).toBe(before + 2);
  });
});
