// `--config.file`: the named VICI targets that /probe?target=NAME may scrape. Only names from this
// file are ever scraped; an address in the query string is refused.
//   targets:
//     gw1: { address: "unix:///run/gw1/charon.vici", timeout: 5s }

import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { parseAddress } from '../vici/index.js';
import { parseDuration } from './duration.js';

export interface TargetConfig {
  name: string;
  address: string;
  timeoutMs: number;
}

export class TargetsConfigError extends Error {
  override name = 'TargetsConfigError';
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseTargetsConfig(text: string, defaultTimeoutMs: number): Map<string, TargetConfig> {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0)
    throw new TargetsConfigError(`invalid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  const root = doc.toJS() as unknown;
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw new TargetsConfigError('must be a YAML mapping with a `targets` key');
  for (const k of Object.keys(root))
    if (k !== 'targets') throw new TargetsConfigError(`unknown key "${k}" (allowed: targets)`);
  const targets = (root as { targets?: unknown }).targets;
  if (typeof targets !== 'object' || targets === null || Array.isArray(targets)) {
    throw new TargetsConfigError('targets: must be a mapping of name: {address, timeout}');
  }
  const out = new Map<string, TargetConfig>();
  for (const [name, t] of Object.entries(targets)) {
    const w = `targets.${name}`;
    if (!NAME.test(name)) throw new TargetsConfigError(`${w}: names are 1-64 characters of [A-Za-z0-9_.-]`);
    if (typeof t !== 'object' || t === null || Array.isArray(t))
      throw new TargetsConfigError(`${w}: must be a mapping`);
    for (const k of Object.keys(t)) {
      if (k !== 'address' && k !== 'timeout')
        throw new TargetsConfigError(`${w}: unknown key "${k}" (allowed: address, timeout)`);
    }
    const { address, timeout } = t as { address?: unknown; timeout?: unknown };
    if (typeof address !== 'string') throw new TargetsConfigError(`${w}.address: required, a VICI address`);
    try {
      parseAddress(address);
    } catch (err) {
      throw new TargetsConfigError(`${w}.address: ${(err as Error).message}`);
    }
    let timeoutMs = defaultTimeoutMs;
    if (timeout !== undefined) {
      try {
        timeoutMs = parseDuration(String(timeout));
      } catch (err) {
        throw new TargetsConfigError(`${w}.timeout: ${(err as Error).message}`);
      }
      if (timeoutMs <= 0) throw new TargetsConfigError(`${w}.timeout: must be positive`);
    }
    out.set(name, { name, address, timeoutMs });
  }
  return out;
}

export function loadTargetsConfig(file: string, defaultTimeoutMs: number): Map<string, TargetConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TargetsConfigError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseTargetsConfig(text, defaultTimeoutMs);
}
