// The landing page at `/`: name, version, and links to the metrics and health endpoints.

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function landingPage(opts: { version: string; metricsPath: string }): string {
  const v = escapeHtml(opts.version);
  const m = escapeHtml(opts.metricsPath);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>strongSwan Exporter</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
header { border-bottom: 1px solid #ccc; margin-bottom: 1em; }
code { background: #f4f4f4; padding: 0 .3em; }
</style>
</head>
<body>
<header><h1>strongSwan Exporter</h1><p>Prometheus exporter for the strongSwan IPsec daemon (charon), over VICI. Version <code>${v}</code>.</p></header>
<ul>
<li><a href="${m}">Metrics</a></li>
<li><a href="/-/healthy">Health</a></li>
<li><a href="/-/ready">Readiness</a></li>
</ul>
</body>
</html>
`;
}
