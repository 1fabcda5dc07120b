import type { Changes, Condition } from '../core/lifecycle/expressions';

/**
 * Compiles a transition's condition and changes (lambdas/core/lifecycle) into DynamoDB expressions. Every attribute
 * name is aliased (`status`, `error` and `result` are reserved words) and every value is a placeholder.
 */
export interface CompiledUpdate {
  readonly ConditionExpression: string;
  readonly UpdateExpression?: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

export function compile(condition: Condition, changes?: Changes): CompiledUpdate {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const nameFor = (field: string): string => {
    const alias = `#${field}`;
    names[alias] = field;
    return alias;
  };
  const valueFor = (value: unknown): string => {
    const placeholder = `:v${Object.keys(values).length}`;
    values[placeholder] = value;
    return placeholder;
  };
  const constant = (placeholder: string, value: unknown): string => {
    values[placeholder] = value;
    return placeholder;
  };

  const conditionText = (c: Condition): string => {
    switch (c.op) {
      case 'exists':
        return `attribute_exists(${nameFor(c.field)})`;
      case 'notExists':
        return `attribute_not_exists(${nameFor(c.field)})`;
      case 'eq':
        return `${nameFor(c.field)} = ${valueFor(c.value)}`;
      case 'lt':
        return `${nameFor(c.field)} < ${valueFor(c.value)}`;
      case 'lte':
        return `${nameFor(c.field)} <= ${valueFor(c.value)}`;
      case 'in':
        return `${nameFor(c.field)} IN (${c.values.map(valueFor).join(', ')})`;
      case 'and':
      case 'or':
        return `(${c.of.map(conditionText).join(c.op === 'and' ? ' AND ' : ' OR ')})`;
    }
  };

  const ConditionExpression = conditionText(condition);
  if (!changes) return withValues({ ConditionExpression, ExpressionAttributeNames: names }, values);

  const sets: string[] = [];
  for (const [field, source] of Object.entries(changes.copy ?? {})) sets.push(`${nameFor(field)} = ${nameFor(source)}`);
  for (const [field, value] of Object.entries(changes.set ?? {})) sets.push(`${nameFor(field)} = ${valueFor(value)}`);
  for (const [field, value] of Object.entries(changes.setIfAbsent ?? {})) {
    const name = nameFor(field);
    sets.push(`${name} = if_not_exists(${name}, ${valueFor(value)})`);
  }
  for (const field of changes.increment ?? []) {
    const name = nameFor(field);
    sets.push(`${name} = if_not_exists(${name}, ${constant(':zero', 0)}) + ${constant(':one', 1)}`);
  }
  for (const [field, items] of Object.entries(changes.append ?? {})) {
    const name = nameFor(field);
    sets.push(`${name} = list_append(if_not_exists(${name}, ${constant(':empty', [])}), ${valueFor(items)})`);
  }
  const removes = (changes.remove ?? []).map(nameFor);
  const UpdateExpression = [
    sets.length > 0 ? `SET ${sets.join(', ')}` : '',
    removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return withValues({ ConditionExpression, UpdateExpression, ExpressionAttributeNames: names }, values);
}

/** DynamoDB refuses an empty ExpressionAttributeValues map. */
function withValues(update: CompiledUpdate, values: Record<string, unknown>): CompiledUpdate {
  return Object.keys(values).length > 0 ? { ...update, ExpressionAttributeValues: values } : update;
}
