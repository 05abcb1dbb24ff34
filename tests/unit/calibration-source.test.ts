// The one wording of where an int8 copy's calibration photos came from (CLI lines, the app's header).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchCalibrationSource, describeCalibration, folderCalibrationSource } from '../../src-main/engine/quantize/calibration-source.js';

describe('calibration source', () => {
  it('names the folder the user chose, resolved, and how many of its photos calibrated', () => {
    const source = folderCalibrationSource('photos/cats');
    expect(source).toBe(`the photos in ${path.resolve('photos/cats')}`);
    expect(describeCalibration({ calibrationImages: 40, calibrationSource: source })).toBe(`40 of the photos in ${path.resolve('photos/cats')}`);
  });

  it('says when ResLens chose the photos itself (the first of a batch)', () => {
    const source = batchCalibrationSource(['/a', '/b/c.jpg'], 50);
    expect(describeCalibration({ calibrationImages: 40, calibrationSource: source })).toBe('40 of the first 50 photos of the batch on /a, /b/c.jpg');
  });

  it('does not guess for copies made before the source was recorded', () => {
    expect(describeCalibration({ calibrationImages: 8 })).toBe('8 photos (source not recorded)');
  });
});
