// The quantiser's choices, as lists of names on their own: option parsers (the CLI) name them
// without loading onnxruntime.
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export const ACTIVATION_TYPES = ['uint8', 'int8'] as const;
export type ActivationType = (typeof ACTIVATION_TYPES)[number];
