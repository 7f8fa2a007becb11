// Collector `conns`: configured connections from list-conns, joined with list-sas, so that a tunnel
// that is down reads 0 instead of vanishing: strongswan_conn_up, _child_up, _ike_sas, _info.

import { F } from '../metrics/families.js';
import { childName, str, subSections } from '../vici/index.js';
import type { Collector } from './collector.js';

const CONN = ['conn'];

interface ConnState {
  ikeSas: number;
  established: boolean;
  /** Names of CHILD configs with an INSTALLED CHILD SA (a few per connection: an array is enough). */
  installedChildren: string[];
}

export const conns: Collector = {
  name: 'conns',
  help: 'Configured connections from list-conns joined with list-sas: up/down per connection and child.',
  defaultEnabled: true,
  async collect(ctx, out) {
    const state = new Map<string, ConnState>();
    const sasDone = ctx.sas((conn, ike) => {
      let st = state.get(conn);
      if (st === undefined) {
        st = { ikeSas: 0, established: false, installedChildren: [] };
        state.set(conn, st);
      }
      st.ikeSas++;
      if (str(ike.state) === 'ESTABLISHED') st.established = true;
      for (const [key, child] of subSections(ike['child-sas'])) {
        if (str(child.state) !== 'INSTALLED') continue;
        const name = childName(key, child);
        if (!st.installedChildren.includes(name)) st.installedChildren.push(name);
      }
    });
    // The connections are listed once the SAs are: each is written as its message arrives.
    await sasDone;
    await ctx.conns((conn) => {
      const name = conn.name;
      const st = state.get(name);
      const label = out.labels(CONN, [name]);
      out.write(
        F.connInfo,
        1,
        out.labels(F.connInfo.labels, [
          name,
          conn.version,
          conn.localAddrs,
          conn.remoteAddrs,
          conn.localPort,
          conn.remotePort,
        ]),
      );
      out.write(F.connUp, st?.established ? 1 : 0, label);
      out.write(F.connIkeSas, st?.ikeSas ?? 0, label);
      for (const child of conn.children) {
        out.write(F.connChildUp, st?.installedChildren.includes(child) ? 1 : 0, label, child);
      }
    });
  },
};
