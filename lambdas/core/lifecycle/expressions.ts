import type { CheckRecord } from '../check';

/**
 * The small language a check's transitions are written in: a condition the stored check must satisfy and the changes
 * to make when it does. Pure data, so the same transition is executed by DynamoDB (the store compiles it into a
 * ConditionExpression and an UpdateExpression) and evaluated here in memory (unit tests, service fakes) with the same
 * meaning, DynamoDB's included: a comparison with a missing attribute is false.
 */

export type Field = keyof CheckRecord & string;
type Scalar = string | number | boolean;

export type Condition =
  | { readonly op: 'exists' | 'notExists'; readonly field: Field }
  | { readonly op: 'eq' | 'lt' | 'lte'; readonly field: Field; readonly value: Scalar }
  | { readonly op: 'in'; readonly field: Field; readonly values: readonly Scalar[] }
  | { readonly op: 'and' | 'or'; readonly of: readonly Condition[] };

export interface Changes {
  /** Attributes given a value. */
  readonly set?: Readonly<Partial<Record<Field, unknown>>>;
  /** Attributes given a value only when they have none yet. */
  readonly setIfAbsent?: Readonly<Partial<Record<Field, unknown>>>;
  /** Attributes that become 1 more than they were (0 when absent). */
  readonly increment?: readonly Field[];
  /** Lists that get these items appended (created when absent). */
  readonly append?: Readonly<Partial<Record<Field, readonly unknown[]>>>;
  /** Target attribute ← source attribute, as stored. */
  readonly copy?: Readonly<Partial<Record<Field, Field>>>;
  readonly remove?: readonly Field[];
  /**
   * The item becomes exactly `id` plus these attributes; everything else it held is gone (a tombstone). Used alone:
   * the store writes it as one conditional PutItem.
   */
  readonly replace?: Readonly<Partial<Record<Field, unknown>>>;
}

export const exists = (field: Field): Condition => ({ op: 'exists', field });
export const notExists = (field: Field): Condition => ({ op: 'notExists', field });
export const eq = (field: Field, value: Scalar): Condition => ({ op: 'eq', field, value });
export const lt = (field: Field, value: Scalar): Condition => ({ op: 'lt', field, value });
export const lte = (field: Field, value: Scalar): Condition => ({ op: 'lte', field, value });
export const isIn = (field: Field, values: readonly Scalar[]): Condition => ({ op: 'in', field, values });
export const and = (...of: Condition[]): Condition => ({ op: 'and', of });
export const or = (...of: Condition[]): Condition => ({ op: 'or', of });

/** Whether a stored check (or none) satisfies the condition, with DynamoDB's semantics. */
export function holds(condition: Condition, record: Partial<CheckRecord> | undefined): boolean {
  const value = (field: Field): unknown => record?.[field];
  switch (condition.op) {
    case 'exists':
      return value(condition.field) !== undefined;
    case 'notExists':
      return value(condition.field) === undefined;
    case 'eq':
      return value(condition.field) === condition.value;
    case 'lt': {
      const current = value(condition.field);
      return typeof current === typeof condition.value && (current as Scalar) < condition.value;
    }
    case 'lte': {
      const current = value(condition.field);
      return typeof current === typeof condition.value && (current as Scalar) <= condition.value;
    }
    case 'in':
      return condition.values.includes(value(condition.field) as Scalar);
    case 'and':
      return condition.of.every((c) => holds(c, record));
    case 'or':
      return condition.of.some((c) => holds(c, record));
  }
}

/** The record after the changes, as DynamoDB would store it. */
export function applyChanges(record: CheckRecord, changes: Changes): CheckRecord {
  if (changes.replace) return { id: record.id, ...changes.replace } as unknown as CheckRecord;
  const next: Record<string, unknown> = { ...record };
  for (const [field, source] of Object.entries(changes.copy ?? {})) next[field] = record[source as Field];
  for (const [field, value] of Object.entries(changes.set ?? {})) next[field] = value;
  for (const [field, value] of Object.entries(changes.setIfAbsent ?? {})) next[field] = record[field as Field] ?? value;
  for (const field of changes.increment ?? []) next[field] = ((record[field] as number | undefined) ?? 0) + 1;
  for (const [field, items] of Object.entries(changes.append ?? {})) {
    next[field] = [...((record[field as Field] as unknown[] | undefined) ?? []), ...(items as unknown[])];
  }
  for (const field of changes.remove ?? []) delete next[field];
  return next as unknown as CheckRecord;
}

/** Every attribute the changes touch, for tests that hold a transition to the fields its table row names. */
export function changedFields(changes: Changes): Field[] {
  return [
    ...Object.keys(changes.set ?? {}),
    ...Object.keys(changes.setIfAbsent ?? {}),
    ...(changes.increment ?? []),
    ...Object.keys(changes.append ?? {}),
    ...Object.keys(changes.copy ?? {}),
    ...(changes.remove ?? []),
    ...Object.keys(changes.replace ?? {}),
  ] as Field[];
}
