// Request admission for the web config: basic auth (bcrypt, `$2y$` hashes as htpasswd makes them),
// the client-certificate rules TLS alone does not enforce, and the optional rate limit.
// An unknown user is checked against a dummy hash, so that a wrong user costs what a wrong password
// costs; verified results are cached by (user, hash, password digest), so that a scraper's repeated
// credentials cost one bcrypt comparison rather than one per scrape.

import crypto from 'node:crypto';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { WebConfig } from './web-config.js';

/** bcrypt (cost 10) of "fakepassword": compared against when the user is unknown. */
const DUMMY_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const CACHE_MAX = 256;

export type Admission = { ok: true } | { ok: false; status: 401 | 403 | 429; reason: string };

export class Gate {
  private readonly cache = new Map<string, boolean>();
  private tokens: number;
  private lastRefill = Date.now();
  /** Comparisons run one at a time, as bcrypt is CPU-bound and shares the event loop. */
  private queue: Promise<unknown> = Promise.resolve();
  /** bcrypt comparisons run (known and unknown users alike). */
  comparisons = 0;

  constructor(private readonly cfg: WebConfig) {
    this.tokens = cfg.rateLimit?.burst ?? 0;
  }

  async admit(req: http.IncomingMessage): Promise<Admission> {
    if (!this.takeToken()) return { ok: false, status: 429, reason: 'rate limit' };
    const cert = this.checkClientCert(req);
    if (cert !== undefined) return { ok: false, status: 403, reason: cert };
    if (this.cfg.users.size === 0) return { ok: true };
    const header = req.headers.authorization;
    if (!header?.startsWith('Basic ')) return { ok: false, status: 401, reason: 'no credentials' };
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { ok: false, status: 401, reason: 'malformed credentials' };
    const ok = await this.verify(decoded.slice(0, colon), decoded.slice(colon + 1));
    return ok ? { ok: true } : { ok: false, status: 401, reason: 'wrong user or password' };
  }

  private async verify(user: string, password: string): Promise<boolean> {
    const known = this.cfg.users.get(user);
    const hash = known ?? DUMMY_HASH;
    const digest = crypto.createHash('sha256').update(password).digest('hex');
    const key = `${user}\u0000${hash}\u0000${digest}`;
    let ok = this.cache.get(key);
    if (ok === undefined) {
      this.comparisons++;
      const run = this.queue.then(() => bcrypt.compare(password, hash));
      this.queue = run.catch(() => false);
      ok = (await run.catch(() => false)) && known !== undefined;
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, ok);
    }
    return ok;
  }

  /** The client-certificate policies that need a look at the peer: undefined when admitted. */
  private checkClientCert(req: http.IncomingMessage): string | undefined {
    const t = this.cfg.tls;
    if (t === undefined || t.clientAuth === 'NoClientCert' || t.clientAuth === 'RequestClientCert')
      return undefined;
    const sock = req.socket as TLSSocket;
    const peer = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
    const has = peer !== undefined && Object.keys(peer).length > 0;
    if (t.clientAuth === 'RequireAnyClientCert' && !has) return 'client certificate required';
    if (t.clientAuth === 'VerifyClientCertIfGiven' && has && !sock.authorized)
      return 'client certificate not trusted';
    if (t.clientAllowedSans.length > 0) {
      const sans = (peer?.subjectaltname ?? '').split(', ').map((s) => s.replace(/^[A-Za-z ]+:/, ''));
      if (!t.clientAllowedSans.some((a) => sans.includes(a))) return 'client certificate SAN not allowed';
    }
    return undefined;
  }

  private takeToken(): boolean {
    const rl = this.cfg.rateLimit;
    if (rl === undefined) return true;
    const now = Date.now();
    const refill = Math.floor((now - this.lastRefill) / rl.intervalMs);
    if (refill > 0) {
      this.tokens = Math.min(rl.burst, this.tokens + refill);
      this.lastRefill += refill * rl.intervalMs;
    }
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }
}
