import type { ResolvedModel } from '../model/resolve.js';
import { unit } from '../model/vectors.js';
import { topK, type Tag } from './topk.js';

/** What one model says about one image. */
export interface ModelOutput {
  tags: Tag[] | null;
  embedding: Float32Array | null;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Turn one image's raw output into tags and/or an embedding, as the spec's output kind says. */
export function postprocess(scores: Float32Array, model: ResolvedModel): ModelOutput {
  const { kind, topK: k, threshold, normalize } = model.spec.output;
  const keep = (tags: Tag[]) => (threshold === undefined ? tags : tags.filter((t) => t.score >= threshold));
  if (kind === 'logits' || kind === 'probabilities') {
    return { tags: keep(topK(scores, k, model.labels, kind === 'logits')), embedding: null };
  }
  if (kind === 'multilabel') {
    const min = threshold ?? 0.5;
    const tags: Tag[] = [];
    scores.forEach((v, i) => {
      const score = sigmoid(v);
      if (score >= min) tags.push({ label: model.labels[i] ?? `class ${i}`, score });
    });
    return { tags: tags.sort((a, b) => b.score - a.score), embedding: null };
  }
  const embedding = Float32Array.from(scores);
  if (normalize) unit(embedding);
  if (!model.zeroShot) return { tags: null, embedding };
  // Zero-shot: cosine similarity of the embedding with each unit label vector.
  const direction = unit(Float32Array.from(embedding));
  const similarity = Float32Array.from(model.zeroShot.vectors, (v) => {
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i]! * direction[i]!;
    return dot;
  });
  return { tags: keep(topK(similarity, k, model.zeroShot.labels, false)), embedding };
}
