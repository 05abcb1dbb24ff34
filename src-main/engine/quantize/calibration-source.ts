// Where an int8 copy's calibration photos came from, in one wording for every surface: stored in
// the copy's record (Int8Record.calibrationSource) and shown beside its agreement with fp32 in the
// CLI and the app, so a user can tell "calibrated on my own folder" from "on the first photos of a batch".
import path from 'node:path';

/** `reslens quantize MODEL --calibrate DIR`: the folder the user chose (no count: unreadable files in it are skipped). */
export function folderCalibrationSource(dir: string): string {
  return `the photos in ${path.resolve(dir)}`;
}

/** `reslens batch --precision int8` without a copy: ResLens took the first photos of the batch. */
export function batchCalibrationSource(inputs: string[], photos: number): string {
  return `the first ${photos} photos of the batch on ${inputs.join(', ')}`;
}

/** Copies made before the source was recorded say so instead of guessing. */
export const UNRECORDED_CALIBRATION_SOURCE = 'source not recorded';

/** "8 of the photos in /photos", "8 of the first 10 photos of the batch on /photos" — the photos calibrated on (the rest of the set was held back to measure agreement). */
export function describeCalibration(record: { calibrationImages: number; calibrationSource?: string }): string {
  return record.calibrationSource
    ? `${record.calibrationImages} of ${record.calibrationSource}`
    : `${record.calibrationImages} photos (${UNRECORDED_CALIBRATION_SOURCE})`;
}
