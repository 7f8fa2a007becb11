// The exporter's version, read once from package.json.
import { readFileSync } from 'node:fs';

// Set by the bundler for the single executable (scripts/release/sea.sh), which has no package.json
// next to it; undeclared (typeof gives 'undefined') when run from dist/.
declare const STRONGSWAN_EXPORTER_VERSION: string | undefined;

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION =
  typeof STRONGSWAN_EXPORTER_VERSION === 'string' ? STRONGSWAN_EXPORTER_VERSION : readVersion();
