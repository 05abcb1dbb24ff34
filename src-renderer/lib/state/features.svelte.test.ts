// FeatureState against a fake transport: the feature view shows the photo the user opened last, whatever
// order the engine's answers come back in (a slow answer for an old photo must not overwrite the new one's).
import { describe, expect, test } from 'vitest';
import type { ImageId } from '../../../src-main/api/contract.js';
import { FeatureState } from './features.svelte.js';
import type { Card } from './images.svelte.js';
import { FakeTransport, settle } from './testing/fake-transport.js';
import { features, heatmap } from './testing/values.js';

const card = (n: number): Card => ({ key: n, name: `p${n}.jpg`, image: `img_feature0000${n}` as ImageId, phase: 'done' });

function setup(): { fake: FakeTransport; fv: FeatureState } {
  const fake = new FakeTransport();
  return { fake, fv: new FeatureState(fake) };
}

describe('FeatureState stale-response guards', () => {
  test("a slow answer for the previous photo does not overwrite the new photo's features, nor its loading or error", async () => {
    const { fake, fv } = setup();
    fv.open(card(1));
    fv.open(card(2));
    const [old, current] = [fake.take('features.get'), fake.take('features.get')];
    expect([old.params.image, current.params.image]).toEqual([card(1).image, card(2).image]);

    current.resolve(features(card(2).image!, 'new photo'));
    await settle();
    expect(fv.value?.top[0]?.label).toBe('new photo');
    expect(fv.loading).toBe(false);

    old.resolve(features(card(1).image!, 'old photo'));
    await settle();
    expect(fv.value?.top[0]?.label).toBe('new photo');
    expect(fv.card?.key).toBe(2);

    // The same when the new photo's answer is still on its way: the old one's arrives and is dropped.
    fv.open(card(3));
    fv.open(card(4));
    const [slow, pending] = [fake.take('features.get'), fake.take('features.get')];
    slow.reject(Object.assign(new Error('engine went away'), { code: 'DISCONNECTED' }));
    await settle();
    expect(fv.value).toBeNull();
    expect(fv.error).toBeNull();
    expect(fv.loading).toBe(true);
    pending.resolve(features(card(4).image!, 'fourth'));
    await settle();
    expect(fv.value?.top[0]?.label).toBe('fourth');
    expect(fv.loading).toBe(false);
  });

  test('closing the view drops the answer still on its way', async () => {
    const { fake, fv } = setup();
    fv.open(card(1));
    fv.close();
    fake.take('features.get').resolve(features(card(1).image!, 'after close'));
    await settle();
    expect(fv.value).toBeNull();
    expect(fv.card).toBeNull();
  });

  test('a channel map asked for the previous photo is not shown over the new one', async () => {
    const { fake, fv } = setup();
    fake.handle('features.get', ({ image }) => features(image, image));
    fv.open(card(1));
    await settle();
    void fv.showChannel(3);
    fv.open(card(2));
    await settle();
    fake.take('features.channel').resolve(heatmap(0.9));
    await settle();
    expect(fv.overlay).toEqual({ kind: 'stage' });
    expect(fv.value?.image).toBe(card(2).image);
    expect(fv.channelLoading).toBeNull();

    // For the photo still shown, the channel does come up.
    void fv.showChannel(3);
    fake.take('features.channel').resolve(heatmap(0.9));
    await settle();
    expect(fv.overlay).toMatchObject({ kind: 'channel', channel: 3 });
  });

  test("a lesioned network's maps asked before switching photo are dropped; the new photo keeps its own", async () => {
    const { fake, fv } = setup();
    fake.handle('features.get', ({ image }) => features(image, `intact ${image}`));
    fv.open(card(1));
    await settle();
    void fv.setLesions({ 'layer3.1': 0 });
    expect(fake.heldOf('blocks.features')[0]?.params).toMatchObject({ image: card(1).image, scales: { 'layer3.1': 0 } });
    fv.open(card(2));
    await settle();
    fake.take('blocks.features').resolve(features(card(1).image!, 'lesioned'));
    await settle();
    expect(fv.value?.top[0]?.label).toBe(`intact ${card(2).image}`);
    expect(fv.lesions).toEqual({});
    expect(fv.loading).toBe(false);
  });
});

describe('FeatureState stage and retry', () => {
  test('the chosen stage is kept across photos that have it, and falls back to the last stage of a model that lacks it', async () => {
    const { fake, fv } = setup();
    fv.openStage(card(1), 'layer2');
    fake.take('features.get').resolve(features(card(1).image!, 'a'));
    await settle();
    expect(fv.stage).toBe('layer2');
    expect(fv.stageValue?.name).toBe('layer2');

    fv.selectStage('layer4');
    fv.open(card(2));
    fake.take('features.get').resolve(features(card(2).image!, 'b', ['stem', 'layer1', 'layer2', 'layer3']));
    await settle();
    expect(fv.stage).toBe('layer3');
    expect(fv.stageValue?.name).toBe('layer3');
  });

  test('an error is shown for its photo; retry asks again and clears it', async () => {
    const { fake, fv } = setup();
    fv.open(card(1));
    fake.take('features.get').reject(Object.assign(new Error('no answer in 60 s'), { code: 'TIMEOUT' }));
    await settle();
    expect(fv.error).toEqual({ code: 'TIMEOUT', message: 'no answer in 60 s' });
    expect(fv.loading).toBe(false);
    fv.retry();
    expect(fv.error).toBeNull();
    fake.take('features.get').resolve(features(card(1).image!, 'second try'));
    await settle();
    expect(fv.value?.top[0]?.label).toBe('second try');
  });

  test('switching mean/max asks again in that mode', async () => {
    const { fake, fv } = setup();
    fake.handle('features.get', ({ image, mode }) => features(image, mode ?? 'mean'));
    fv.open(card(1));
    await settle();
    fv.setMode('max');
    await settle();
    expect(fake.callsOf('features.get')).toMatchObject([{ mode: 'mean' }, { mode: 'max' }]);
    expect(fv.value?.top[0]?.label).toBe('max');
  });
});
