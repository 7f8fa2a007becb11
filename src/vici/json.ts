// A VICI message as plain JSON: sections become objects, lists arrays, values strings.
// A value that is not clean UTF-8 text (certificate DER, for one) becomes "base64:<data>".

import { isList, isSection, isValue, type ViciEntry, type ViciSection, type ViciValue } from './message.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type JsonValue = string | JsonValue[] | { [k: string]: JsonValue };

export function valueToJson(v: ViciValue): string {
  if (typeof v === 'string') return v;
  let text: string;
  try {
    text = utf8.decode(v);
  } catch {
    return `base64:${v.toString('base64')}`;
  }
  // Control characters other than tab and newlines mean bytes, not text.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? `base64:${v.toString('base64')}` : text;
}

export function entryToJson(e: ViciEntry): JsonValue {
  if (isValue(e)) return valueToJson(e);
  if (isList(e)) return e.map(valueToJson);
  if (isSection(e)) return messageToJson(e);
  return e.map(messageToJson);
}

export function messageToJson(s: ViciSection): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const k of Object.keys(s)) {
    Object.defineProperty(out, k, {
      value: entryToJson(s[k] as ViciEntry),
      enumerable: true,
      writable: true,
    });
  }
  return out;
}
