// The in-memory shape of a VICI message: a tree of sections, key/values and lists.
// Values are kept as Buffers unless a decoder was asked for text; binary values (DER) stay Buffers.

/** A value as decoded: a Buffer (faithful bytes) or, when the decoder was asked for text, a string. */
export type ViciValue = Buffer | string;
export type ViciList = ViciValue[];
/**
 * A section. Keys keep their wire order. A section name that occurs more than once in one section
 * (charon < 5.5.2 did this for CHILD_SAs of one config) becomes an array of the sections, in order.
 */
export interface ViciSection {
  [name: string]: ViciEntry;
}
export type ViciEntry = ViciValue | ViciList | ViciSection | ViciSection[];
export type ViciMessage = ViciSection;

/** What callers may pass to the encoder: plain JS values, mapped once to VICI elements. */
export type ViciInputValue = string | Buffer | number | bigint | boolean;
export type ViciInput = {
  [name: string]: ViciInputValue | ViciInputValue[] | ViciInput | ViciInput[] | undefined;
};

export function newSection(): ViciSection {
  return Object.create(null) as ViciSection;
}

export function isValue(e: ViciEntry | undefined): e is ViciValue {
  return typeof e === 'string' || Buffer.isBuffer(e);
}

export function isSection(e: ViciEntry | undefined): e is ViciSection {
  return typeof e === 'object' && e !== null && !Array.isArray(e) && !Buffer.isBuffer(e);
}

/** A list is an array of values; an array of sections is a repeated section. An empty array is a list. */
export function isList(e: ViciEntry | undefined): e is ViciList {
  return Array.isArray(e) && (e.length === 0 || isValue(e[0]));
}

/** Text of a value (UTF-8), or undefined when the entry is missing or not a value. */
export function str(e: ViciEntry | undefined): string | undefined {
  if (typeof e === 'string') return e;
  if (Buffer.isBuffer(e)) return e.toString('utf8');
  return undefined;
}

/** A decimal value as a number; undefined when absent or not a number. u64 counters lose precision past 2^53. */
export function num(e: ViciEntry | undefined): number | undefined {
  const s = str(e);
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** charon's flags: present with `yes` (or `1` for `esn`) means true; absent means false. */
export function flag(e: ViciEntry | undefined): boolean {
  const s = str(e);
  return s === 'yes' || s === '1';
}

/** The items of a list as strings; a single value is a one-item list; anything else is empty. */
export function strList(e: ViciEntry | undefined): string[] {
  if (isList(e)) return e.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
  const s = str(e);
  return s === undefined ? [] : [s];
}

/** The sub-sections of a section as [name, section] pairs, repeated names flattened in order. */
export function subSections(e: ViciEntry | undefined): [string, ViciSection][] {
  const out: [string, ViciSection][] = [];
  if (!isSection(e)) return out;
  for (const name in e) {
    const v = e[name];
    if (isSection(v)) out.push([name, v]);
    else if (Array.isArray(v) && !isList(v)) for (const s of v as ViciSection[]) out.push([name, s]);
  }
  return out;
}

/** A CHILD SA's config name: the `name` key (5.5.2+), else the section name (older daemons). */
export function childName(key: string, child: ViciSection): string {
  return str(child.name) ?? key;
}
