// Collector `conns`: configured connections from list-conns, joined with list-sas, so that a tunnel
// that is down reads 0 instead of vanishing: strongswan_conn_up, _child_up, _ike_sas, _info.

import { renderLabels } from '../metrics/exposition.js';
import { F } from '../metrics/families.js';
import { str, strList, subSections } from '../vici/index.js';
import type { Collector } from './collector.js';
import { childName } from './sas.js';

interface ConnState {
  ikeSas: number;
  established: boolean;
  installedChildren: Set<string>;
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
        st = { ikeSas: 0, established: false, installedChildren: new Set() };
        state.set(conn, st);
      }
      st.ikeSas++;
      if (str(ike.state) === 'ESTABLISHED') st.established = true;
      for (const [key, child] of subSections(ike['child-sas'])) {
        if (str(child.state) === 'INSTALLED') st.installedChildren.add(childName(key, child));
      }
    });
    // Both listings run at once; waiting on both means a failure of either is never left unhandled.
    const [configured] = await Promise.all([ctx.conns(), sasDone]);

    for (const [name, conn] of configured) {
      const st = state.get(name);
      const label = renderLabels(['conn'], [name]);
      out.sample(
        F.connInfo,
        renderLabels(F.connInfo.labels, [
          name,
          str(conn.version) ?? '',
          strList(conn.local_addrs).join(','),
          strList(conn.remote_addrs).join(','),
        ]),
        1,
      );
      out.sample(F.connUp, label, st?.established ? 1 : 0);
      out.sample(F.connIkeSas, label, st?.ikeSas ?? 0);
      for (const [child] of subSections(conn.children)) {
        out.sample(
          F.connChildUp,
          renderLabels(F.connChildUp.labels, [name, child]),
          st?.installedChildren.has(child) ? 1 : 0,
        );
      }
    }
  },
};
