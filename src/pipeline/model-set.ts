import type { DecodeTarget } from '../decode/types.js';
import { distinctTargets } from '../decode/decode.js';
import { UserError } from '../errors.js';
import type { Classifier } from '../infer/session.js';
import { columnName } from '../model/spec.js';
import type { ModelColumns } from '../output/rows.js';

/** The models of a run, loaded, with what the shard loop needs to know about them. */
export interface ModelSet {
  classifiers: Classifier[];
  /** Distinct decode sizes, and which one each model uses: one decode serves every model. */
  targets: DecodeTarget[];
  targetOf: number[];
  columns: ModelColumns[];
}

export function modelSet(classifiers: Classifier[], maxPixels: number): ModelSet {
  const wanted = classifiers.map(({ model: { spec } }) => ({
    width: spec.input.width,
    height: spec.input.height,
    shortSide: spec.input.resizeShortSide ?? Math.max(spec.input.width, spec.input.height),
    maxPixels,
  }));
  const { targets, index } = distinctTargets(wanted);
  const columns = classifiers.map(({ model, outputSize }): ModelColumns => ({
    name: columnName(model.spec),
    tags: model.spec.output.kind !== 'embedding' || model.zeroShot !== undefined,
    embedding: model.spec.output.kind === 'embedding' ? outputSize : undefined,
  }));
  const names = columns.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UserError(`two models would both write the columns *_${dup}: give them different names in their specs`);
  const noSize = columns.findIndex((c, i) => classifiers[i]!.model.spec.output.kind === 'embedding' && c.embedding === undefined);
  if (noSize >= 0) throw new UserError(`model ${classifiers[noSize]!.model.spec.name}: its output has no fixed size, which an embedding column needs`);
  return { classifiers, targets, targetOf: index, columns };
}

