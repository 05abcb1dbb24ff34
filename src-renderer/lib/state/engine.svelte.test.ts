// EngineState against a fake transport: a model change (by name or precision) is announced once, so the
// app can re-classify and close stale views; a failed switch says why and leaves the model as it was.
import { describe, expect, test } from 'vitest';
import type { ConnectionState } from '../transport/index.js';
import type { EngineStatus } from '../../../src-main/api/contract.js';
import { EngineState } from './engine.svelte.js';
import { Toasts } from './toasts.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';

function status(name: string, precision?: 'int8'): EngineStatus {
  return {
    model: {
      name,
      title: name.toUpperCase(),
      pretrained: false,
      classes: 1000,
      params: 1,
      macs: 1,
      ep: 'cpu',
      epLabel: 'CPU · 2 threads',
      epAttempts: [],
      threads: 2,
      featuresAvailable: true,
      ...(precision ? { precision } : {}),
    },
    versions: {},
  };
}

function setup(first = status('resnet50')) {
  const fake = new FakeTransport();
  let current = first;
  fake.handle('engine.status', () => current);
  fake.handle('models.list', () => [{ name: current.model!.name, title: '', source: 'catalog', installed: true, bytes: null }]);
  fake.handle('models.select', ({ name, precision }) => (current = status(name, precision === 'int8' ? 'int8' : undefined)));
  const toasts = new Toasts();
  const engine = new EngineState(fake, toasts);
  const changes: string[] = [];
  engine.onModelChange = (name) => changes.push(name);
  return { fake, toasts, engine, changes };
}

describe('EngineState', () => {
  test('a model change is announced when the name or the precision changes, not for the first status or a repeat', async () => {
    const { fake, engine, changes } = setup();
    engine.init();
    await settle();
    expect(engine.model?.name).toBe('resnet50');
    fake.emit('engine.status', status('resnet50'));
    expect(changes).toEqual([]);
    await engine.select('resnet152');
    expect(changes).toEqual(['resnet152']);
    expect(engine.models[0]?.name).toBe('resnet152');
    await engine.select('resnet152', 'int8');
    expect(fake.callsOf('models.select').at(-1)).toEqual({ name: 'resnet152', precision: 'int8' });
    expect(changes).toEqual(['resnet152', 'resnet152']);
    // Selecting what is loaded asks nothing.
    await engine.select('resnet152', 'int8');
    expect(fake.callsOf('models.select')).toHaveLength(2);
    // A switch from elsewhere (the CLI, another window) arrives as an event.
    fake.emit('engine.status', status('resnet50'));
    expect(changes).toEqual(['resnet152', 'resnet152', 'resnet50']);
  });

  test('a failed switch toasts why, keeps the model, and clears the switching state; a second click while switching is ignored', async () => {
    const { fake, toasts, engine, changes } = setup();
    await engine.refresh();
    fake.handle('models.select', () => new Promise(() => undefined));
    void engine.select('resnet152');
    void engine.select('resnet101');
    expect(engine.selecting).toBe('resnet152');
    expect(fake.callsOf('models.select')).toHaveLength(1);

    const other = setup();
    await other.engine.refresh();
    other.fake.handle('models.select', () => Promise.reject(Object.assign(new Error('not an ONNX ResNet'), { code: 'INVALID_MODEL' })));
    await other.engine.select('broken');
    expect(other.toasts.items.at(-1)).toMatchObject({ kind: 'error', title: 'Could not load broken' });
    expect(other.toasts.items.at(-1)?.detail).toContain('not an ONNX ResNet');
    expect(other.engine.model?.name).toBe('resnet50');
    expect(other.engine.selecting).toBeNull();
    expect(other.changes).toEqual([]);
    expect(toasts.items).toEqual([]);
    expect(changes).toEqual([]);
  });

  test('browser mode: the socket coming back refreshes what the engine is; a dropped socket is not an error toast', async () => {
    const fake = new FakeTransport();
    const listeners: ((state: ConnectionState) => void)[] = [];
    let state: ConnectionState = 'open';
    const transport = Object.assign(fake, {
      connection: {
        get state() {
          return state;
        },
        onChange: (l: (s: ConnectionState) => void) => (listeners.push(l), () => undefined),
      },
    });
    fake.handle('engine.status', () => Promise.reject(Object.assign(new Error('socket closed'), { code: 'DISCONNECTED' })));
    const toasts = new Toasts();
    const engine = new EngineState(transport, toasts);
    engine.init();
    await settle();
    expect(toasts.items).toEqual([]);
    state = 'reconnecting';
    for (const l of listeners) l(state);
    expect(engine.connection).toBe('reconnecting');
    fake.handle('engine.status', () => status('resnet50'));
    fake.handle('models.list', () => []);
    state = 'open';
    for (const l of listeners) l(state);
    await settle();
    expect(engine.connection).toBe('open');
    expect(engine.model?.name).toBe('resnet50');
  });
});
