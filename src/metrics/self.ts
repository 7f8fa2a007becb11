// The exporter's own process metrics (prom-client's defaults: CPU, memory, file descriptors, event
// loop), one registry per wire format, as prom-client mutates counter names when one registry is
// rendered in both formats. Switched off by --web.disable-exporter-metrics.

import client from 'prom-client';
import type { Format } from './exposition.js';

export class SelfMetrics {
  private readonly registries: Record<Format, client.Registry> | null;

  constructor(enabled: boolean) {
    if (!enabled) {
      this.registries = null;
      return;
    }
    const prom = new client.Registry();
    const om = new client.Registry<typeof client.openMetricsContentType>();
    om.setContentType(client.openMetricsContentType);
    client.collectDefaultMetrics({ register: prom });
    client.collectDefaultMetrics({ register: om });
    this.registries = { prometheus: prom, openmetrics: om as unknown as client.Registry };
  }

  /** The process metrics in the given format, without the OpenMetrics `# EOF` trailer. */
  async text(format: Format): Promise<string> {
    if (this.registries === null) return '';
    const t = await this.registries[format].metrics();
    return format === 'openmetrics' ? t.replace(/# EOF\n?$/, '') : t;
  }
}
