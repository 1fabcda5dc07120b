/**
 * The canonical JSON Didit's `X-Signature-V2` is computed over: Python's `json.dumps(body, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False)` after whole floats became ints, or the same with `ensure_ascii=True`
 * (Didit's docs call the form "ASCII-escaped" while their samples keep Unicode as is). Pure, no Node built-ins.
 */

export interface CanonicalJsonOptions {
  /**
   * Python's `ensure_ascii=True`: every character outside printable ASCII (U+007F and above; controls are escaped
   * either way) is written as `\uXXXX` in lower-case hex, characters above U+FFFF as their UTF-16 surrogate pair.
   * @default false
   */
  readonly ensureAscii?: boolean;
}

/** Python's recursion limit stops Didit long before this; the limit keeps a hostile body from exhausting the stack. */
const MAX_CANONICAL_DEPTH = 256;
/**
 * Python's `repr(float)` switches to exponent notation below 1e-4; JavaScript only below 1e-6. Whole numbers never
 * reach this path (they are written as integers).
 */
const PYTHON_MIN_DECIMAL_EXPONENT = -4;

/**
 * The JSON text Didit's X-Signature-V2 is computed over: what Python writes with
 * `json.dumps(shorten_floats(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.
 *
 * - Keys are sorted recursively by Unicode code point (Python's `str` order, not JavaScript's UTF-16 order), and the
 *   text is written directly rather than through a rebuilt object, because JavaScript objects list integer-like keys
 *   ("9", "10") first whatever the insertion order.
 * - Strings are escaped as both languages agree: `"`, `\`, and control characters below U+0020; `/` and every other
 *   character (accents, CJK, U+2028) are written as is. A lone surrogate is written as `\udXXX`; Python could not
 *   encode it to UTF-8 at all, so Didit never signs one.
 * - Whole numbers are written as integers with every digit (100.0 → `100`, -0 → `0`, 1e21 →
 *   `1000000000000000000000`), as Python does after `int(x)`; an integer beyond 2^53 has already lost digits in
 *   `JSON.parse`, so its V2 signature cannot match and verification falls back to `X-Signature`.
 * - Other numbers use the shortest round-trip digits, which both languages choose identically, in Python's layout:
 *   exponent notation below 1e-4 with a signed, two-digit exponent (0.00001 → `1e-05`), plain decimals otherwise.
 *
 * @param value A value as JSON.parse returns it (plain objects, arrays, strings, finite numbers, booleans, null).
 * @throws TypeError for anything JSON cannot hold (undefined, functions, non-finite numbers, class instances) or for
 * nesting deeper than 256 levels.
 */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const text = write(value, 0);
  return options.ensureAscii ? asciiEscaped(text) : text;
}

/**
 * Outside strings canonical JSON is ASCII already, and inside them `write` has escaped `"`, `\` and the controls;
 * so escaping each remaining UTF-16 unit from U+007F up is exactly what Python's `ensure_ascii=True` writes (it walks
 * the same units: an astral character becomes its two surrogates, and a lone surrogate is already `\udXXX`).
 */
function asciiEscaped(text: string): string {
  return text.replace(/[\u007f-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_CANONICAL_DEPTH) throw new TypeError('value is nested too deeply for canonical JSON');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return pythonNumber(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => write(item, depth + 1)).join(',')}]`;
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        throw new TypeError('canonical JSON only holds plain objects');
      }
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .sort(compareCodePoints)
        .map((key) => `${JSON.stringify(key)}:${write(record[key], depth + 1)}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

function pythonNumber(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold a non-finite number');
  // BigInt gives every digit of the double (and 0 for -0), as Python's int(float) does; String() would round 2^60 to
  // 1152921504606847000 and write 1e21 in exponent form.
  if (Number.isInteger(value)) return BigInt(value).toString();
  const exponential = value.toExponential();
  const split = exponential.indexOf('e');
  const exponent = Number(exponential.slice(split + 1));
  if (exponent >= PYTHON_MIN_DECIMAL_EXPONENT) return String(value);
  const digits = String(Math.abs(exponent)).padStart(2, '0');
  return `${exponential.slice(0, split)}e${exponent < 0 ? '-' : '+'}${digits}`;
}

/**
 * Python compares `str` by code point. JavaScript's default sort compares UTF-16 units, which puts characters above
 * U+FFFF (stored as surrogates D800–DFFF) before U+E000–U+FFFF. Moving the surrogates above that range restores code
 * point order without decoding the strings.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
