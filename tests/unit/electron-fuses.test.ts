// Issue 14 #16: the packaging step flips Electron's fuses. The Electron binary cannot be had on this
// machine, so the hook runs on a stand-in file (a true boundary): bytes around Electron's fuse wire
// exactly as Electron lays it out (sentinel, wire version 1, wire length, one byte per fuse, all
// still at Electron's defaults), read back with @electron/fuses' own reader.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builderConfig } from '../../electron.config.js';
import { flipPackagedFuses, packagedBinary } from '../../scripts/electron-fuses.js';

const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** Electron's fuse byte values ('0' and '1'; @electron/fuses does not export its FuseState). */
const FuseState = { DISABLE: 0x30, ENABLE: 0x31 } as const;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'reslens-fuses-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('#16 Electron fuses in packaging', () => {
  it('the afterPack hook turns off RunAsNode, NODE_OPTIONS and --inspect, and turns on asar-only with integrity', async () => {
    const context = { appOutDir: dir, electronPlatformName: 'linux', packager: { appInfo: { productFilename: 'ResLens' }, executableName: 'reslens' } };
    const binary = packagedBinary(context);
    expect(binary).toBe(path.join(dir, 'reslens'));
    // Electron's defaults: RunAsNode, cookie encryption off, NODE_OPTIONS on, inspect on, integrity off, asar-only off, snapshot off, file privileges on.
    const defaults = [1, 0, 1, 1, 0, 0, 0, 1].map((on) => (on ? FuseState.ENABLE : FuseState.DISABLE));
    await writeFile(
      binary,
      Buffer.concat([Buffer.alloc(4096, 0x90), Buffer.from(SENTINEL), Buffer.from([1, defaults.length, ...defaults]), Buffer.alloc(4096, 0x90)]),
    );
    const before = await getCurrentFuseWire(binary);
    expect(before[FuseV1Options.RunAsNode]).toBe(FuseState.ENABLE);

    const config = builderConfig('linux', '45.4.1');
    expect(typeof config.afterPack).toBe('function');
    await flipPackagedFuses(context);
    const wire = await getCurrentFuseWire(binary);
    expect(wire[FuseV1Options.RunAsNode]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.EnableCookieEncryption]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(FuseState.DISABLE);
    expect((await readFile(binary)).length).toBe(4096 * 2 + SENTINEL.length + 2 + defaults.length);
  });
});
