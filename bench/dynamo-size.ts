/**
 * DynamoDB's item size as it bills it: attribute name bytes plus value bytes (strings UTF-8, numbers about one byte
 * per two significant digits plus one, booleans and nulls one byte, maps and lists three bytes plus one per element).
 * Write request units are ceil(size / 1 KB) of the larger of the item before and after; reads ceil(size / 4 KB).
 */
export function dynamoItemBytes(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    total += Buffer.byteLength(name, 'utf8') + valueBytes(value);
  }
  return total;
}

function valueBytes(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace(/[.\-e+]/g, '')
      .replace(/^0+/, '').length;
    return Math.ceil(Math.max(1, digits) / 2) + 1;
  }
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, element) => sum + 1 + valueBytes(element), 0);
  if (typeof value === 'object') {
    let total = 3;
    for (const [name, inner] of Object.entries(value as Record<string, unknown>)) {
      if (inner === undefined) continue;
      total += 1 + Buffer.byteLength(name, 'utf8') + valueBytes(inner);
    }
    return total;
  }
  return 0;
}

export function writeUnits(bytesBefore: number, bytesAfter: number): number {
  return Math.max(1, Math.ceil(Math.max(bytesBefore, bytesAfter) / 1024));
}

export function strongReadUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096));
}
