// Issue 14: the fuzz suite, part of `npm test`, bounded in time (about 20 s in all). Random and
// mutated MessagePack frames and contract requests at the real server's WebSocket and at the
// Electron IPC validator; mutated ONNX protobufs at the model loader; mutated image headers at the
// decoder. Every case must end in an answer that is a contract value (an error with a known code, or
// a result) within a deadline: no crash, no hang, nothing unvalidated reaching the engine. A failing
// case is saved under test-results/fuzz/ with its seed (tests/helpers/fuzz.ts).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RequestSchemas, type RequestName, type ServerMessage } from '../../src-main/api/contract.js';
import { GrantRegistry } from '../../src-main/app/grants.js';
import { registerIpc } from '../../src-main/app/ipc-main.js';
import { APP_ORIGIN, trustedSender } from '../../src-main/app/sender.js';
import { EngineError } from '../../src-main/engine/core/errors.js';
import { ErrorCode } from '../../src-main/engine/core/vocabulary.js';
import { ERROR_CODES } from '../../src-main/engine/core/vocabulary.js';
import { inspectModelFile } from '../../src-main/engine/model/inspect.js';
import { decodeImage } from '../../src-main/engine/preprocess/decode.js';
import { decodeMessage, encodeMessage } from '../../src-main/api/codec.js';
import { ReslensServer } from '../../src-main/server/server.js';
import { ElectronDialogsStandIn, ElectronIpcMainStandIn } from '../helpers/electron-stand-in.js';
import { type Rng, fuzz, fuzzSeed, int, mutateBytes, pick, randomValue, within } from '../helpers/fuzz.js';
import { tinyClassifier } from '../helpers/tiny-models.js';

const SEED = fuzzSeed();
const METHODS = Object.keys(RequestSchemas) as RequestName[];
/** Codes a host may answer with: the one list (engine and hosts alike, engine/core/vocabulary.ts). */
const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** Valid requests to start mutations from (ids the hosts never issued: they must be refused by the engine side, not crash). */
const VALID: { method: RequestName; params: unknown }[] = [
  { method: 'engine.status', params: {} },
  { method: 'models.select', params: { name: 'resnet50', ep: 'cpu' } },
  { method: 'images.classify', params: { images: ['img_aaaaaaaaaaaa', 'img_bbbbbbbbbbbb'], top: 5 } },
  { method: 'images.thumbnail', params: { image: 'img_aaaaaaaaaaaa', size: 128 } },
  { method: 'features.get', params: { image: 'img_aaaaaaaaaaaa', mode: 'mean', channels: 8, classes: 5 } },
  { method: 'features.channel', params: { image: 'img_aaaaaaaaaaaa', stage: 'layer2', channel: 3 } },
  { method: 'batch.start', params: { folder: 'dir_aaaaaaaaaaaa', top: 5 } },
  { method: 'batch.organize', params: { batch: 'batch_aaaaaaaaaaaa', destination: 'dir_bbbbbbbbbbbb', minProb: 0.5, mode: 'copy', dryRun: true } },
  { method: 'batch.list', params: {} },
];

/** A request message: valid, with one field replaced by a random value, or random throughout. */
function randomRequest(rng: Rng, id: number): unknown {
  const base = pick(rng, VALID);
  const roll = rng();
  if (roll < 0.2) return { kind: 'request', id, method: base.method, params: base.params };
  if (roll < 0.6) {
    const params = { ...(base.params as Record<string, unknown>) };
    const keys = Object.keys(params);
    params[keys.length > 0 && rng() < 0.7 ? pick(rng, keys) : 'extra'] = randomValue(rng);
    return { kind: 'request', id, method: rng() < 0.9 ? base.method : pick(rng, [...METHODS, 'engine.explode']), params };
  }
  if (roll < 0.8) return { kind: pick(rng, ['request', 'event', 'response']), id: randomValue(rng, 0), method: pick(rng, METHODS), params: randomValue(rng) };
  return randomValue(rng);
}

/** What reached the engine side must have passed the contract's validation. */
function assertValidated(method: string, params: unknown): void {
  expect(METHODS).toContain(method);
  expect(RequestSchemas[method as RequestName].safeParse(params).success, `${method} ${JSON.stringify(params)?.slice(0, 200)}`).toBe(true);
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe(`fuzz (seed ${SEED})`, () => {
  it('server WebSocket: random and mutated frames all get a contract answer; only validated requests reach the service', async () => {
    const staticDir = path.join(dir, 'static');
    await mkdir(staticDir, { recursive: true });
    await writeFile(path.join(staticDir, 'index.html'), '<!doctype html>');
    const server = await ReslensServer.start({
      staticDir,
      root: dir,
      log: () => undefined,
      createService: () => ({
        async handle(method: string, params: unknown) {
          assertValidated(method, params);
          if (method === 'engine.status') return { model: null, versions: {} };
          throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'unknown id');
        },
      }),
    });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`);
    await new Promise((resolve) => ws.once('open', resolve));
    const replies: ServerMessage[] = [];
    let notify: (() => void) | undefined;
    ws.on('message', (data) => {
      replies.push(decodeMessage(data as Buffer) as ServerMessage);
      notify?.();
    });
    const exchange = (frame: Uint8Array): Promise<ServerMessage> =>
      within(
        new Promise<ServerMessage>((resolve) => {
          const count = replies.length;
          notify = () => {
            if (replies.length > count) resolve(replies[count]);
          };
          ws.send(frame);
        }),
        3000,
        'the server',
      );
    try {
      const cases = await fuzz({ name: 'server-ws', seed: SEED, budgetMs: 5000, maxCases: 600 }, async (rng, i, keep) => {
        const roll = rng();
        let frame: Uint8Array;
        if (roll < 0.15) frame = new Uint8Array(Array.from({ length: int(rng, 200) }, () => int(rng, 256)));
        else if (roll < 0.55) frame = mutateBytes(encodeMessage(randomRequest(rng, i)), rng);
        else frame = encodeMessage(randomRequest(rng, i));
        keep(frame);
        const reply = await exchange(frame);
        expect(reply.kind).toBe('response');
        if (reply.kind === 'response' && !reply.ok) {
          expect(KNOWN_CODES.has(reply.error.code), reply.error.code).toBe(true);
          expect(typeof reply.error.message).toBe('string');
        }
      });
      console.info(`fuzz server-ws: ${cases} cases, seed ${SEED}`);
      expect(cases).toBeGreaterThan(50);
      // Still serving afterwards.
      const status = await exchange(encodeMessage({ kind: 'request', id: 1, method: 'engine.status', params: {} }));
      expect(status).toMatchObject({ kind: 'response', id: 1, ok: true });
    } finally {
      ws.close();
      await server.close();
    }
  });

  it('Electron IPC validator: random and mutated requests and arguments all get a contract answer', async () => {
    const ipc = new ElectronIpcMainStandIn();
    const engine = {
      async request(method: string, params: unknown) {
        assertValidated(method, params);
        throw new EngineError(ErrorCode.INVALID_ARGUMENT, 'unknown id');
      },
    };
    registerIpc(ipc, {
      isTrustedSender: trustedSender([APP_ORIGIN]),
      engine: engine as never,
      grants: new GrantRegistry({}),
      dialogs: new ElectronDialogsStandIn(),
    });
    const frame = { url: `${APP_ORIGIN}/index.html`, parent: null };
    const cases = await fuzz({ name: 'ipc', seed: SEED, budgetMs: 3000, maxCases: 800 }, async (rng, i, keep) => {
      const roll = rng();
      const channel = roll < 0.85 ? 'reslens:request' : 'reslens:add-paths';
      const args = roll < 0.7 ? [randomRequest(rng, i)] : Array.from({ length: int(rng, 3) }, () => randomValue(rng));
      keep(JSON.stringify(args, (_k, v: unknown) => (ArrayBuffer.isView(v) ? `<${v.constructor.name}>` : v)) ?? '');
      const reply = await within(ipc.invoke(channel, frame, ...args), 3000, 'the IPC handler');
      if (!reply.ok) expect(KNOWN_CODES.has(reply.error.code), reply.error.code).toBe(true);
    });
    console.info(`fuzz ipc: ${cases} cases, seed ${SEED}`);
    expect(cases).toBeGreaterThan(50);
  });

  it('model loader: mutated ONNX protobufs are a model or INVALID_MODEL/UNSUPPORTED_MODEL, never a crash or a hang', async () => {
    const seeds = [tinyClassifier(4), tinyClassifier(1000)];
    const file = path.join(dir, 'fuzz.onnx');
    const cases = await fuzz({ name: 'onnx', seed: SEED, budgetMs: 4000, maxCases: 400 }, async (rng, _i, keep) => {
      const bytes = mutateBytes(pick(rng, seeds), rng, 4);
      keep(bytes);
      await writeFile(file, bytes);
      try {
        const info = await within(inspectModelFile(file), 5000, 'the model loader');
        expect(info.classes).toBeGreaterThan(0);
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        expect(['INVALID_MODEL', 'UNSUPPORTED_MODEL', 'NOT_A_FILE']).toContain(error.code);
      }
    });
    console.info(`fuzz onnx: ${cases} cases, seed ${SEED}`);
    expect(cases).toBeGreaterThan(30);
  });

  it('decoder: mutated image headers are an image or a specific image error, never a crash or a hang', async () => {
    const base = sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 200, g: 80, b: 20 } } });
    const seeds = await Promise.all([
      base.clone().jpeg().toBuffer(),
      base.clone().png().toBuffer(),
      base.clone().gif().toBuffer(),
      base.clone().webp().toBuffer(),
      base.clone().tiff().toBuffer(),
    ]);
    const imageCodes = ['EMPTY_FILE', 'NOT_AN_IMAGE', 'UNSUPPORTED_FORMAT', 'DECODE_FAILED', 'IMAGE_TOO_LARGE'];
    const cases = await fuzz({ name: 'decoder', seed: SEED, budgetMs: 6000, maxCases: 400 }, async (rng, _i, keep) => {
      const original = pick(rng, seeds);
      // Mostly the header (the first 64 bytes: sizes, chunk lengths, markers), sometimes anywhere.
      const headerOnly = rng() < 0.8;
      const head = headerOnly ? original.subarray(0, 64) : original;
      const mutated = Buffer.concat([Buffer.from(mutateBytes(head, rng, 4)), headerOnly ? original.subarray(64) : Buffer.alloc(0)]);
      keep(mutated);
      try {
        const image = await within(decodeImage(mutated, { maxPixels: 40_000_000 }), 10_000, 'the decoder');
        expect(image.width * image.height).toBeGreaterThan(0);
        expect(image.data.length).toBe(image.width * image.height * 3);
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        expect(imageCodes).toContain(error.code);
      }
    });
    console.info(`fuzz decoder: ${cases} cases, seed ${SEED}`);
    expect(cases).toBeGreaterThan(30);
  });
});
