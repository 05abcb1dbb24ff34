// The classifier head's weights as the graph stores them: found by model/ (stages, prepared cache),
// held by infer/ (the classifier), used by features/ (class activation maps). Declared here, at the
// bottom of those three, so none of them imports a folder above it.
export interface ClassifierWeights {
  /** Weight values as stored. */
  weight: Float32Array;
  /** Stored as [classes, features] (true) or [features, classes] (false). */
  classesFirst: boolean;
  classes: number;
  features: number;
  bias?: Float32Array;
}
