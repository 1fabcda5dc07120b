import type { CheckResult } from './check';
import type { DiditFaceEntity } from './didit-types';

/**
 * Didit estimates each face's age, gender and race/ethnicity. Nothing in the decision needs them and they are
 * sensitive (GDPR Art. 9, BIPA), so unless `storeFaceAttributes` is on, they are dropped before a result is stored
 * and before one is returned; what the decision and an audit need stays: the box, the detector's confidence, the
 * score, the warnings, quality and luminance.
 */

/** Per-face fields that describe the person rather than the detection. */
export const FACE_ATTRIBUTE_FIELDS = ['age', 'gender', 'race', 'ethnicity'] as const;

/** The result with each face reduced to its box and confidence (the same object when there is nothing to drop). */
export function withoutFaceAttributes(result: CheckResult): CheckResult {
  const image = result.liveness.user_image;
  if (!image) return result;
  const entities = image.entities.map(
    (entity): DiditFaceEntity => ({ bbox: entity.bbox, confidence: entity.confidence }),
  );
  return { ...result, liveness: { ...result.liveness, user_image: { ...image, entities } } };
}

/**
 * A raw Didit answer (kept when it failed strict parsing) without any face attribute: parsed and cleaned when it is
 * JSON, otherwise each `"age": …`, `"gender": …`, `"race": …` member blanked out of the text.
 */
export function rawAnswerWithoutFaceAttributes(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw, (key, value) => (isAttribute(key) ? undefined : value)));
  } catch {
    return raw.replace(
      /"(age|gender|race|ethnicity)"\s*:\s*("(?:[^"\\]|\\.)*"?|-?[0-9.eE+-]+|null|true|false)?/g,
      '"$1":null',
    );
  }
}

function isAttribute(key: string): boolean {
  return (FACE_ATTRIBUTE_FIELDS as readonly string[]).includes(key);
}
