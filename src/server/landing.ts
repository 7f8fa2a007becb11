// The landing page at `/`: name, version, links to the metrics and health endpoints, and for the
// targets of --config.file a form to try /probe.

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function landingPage(opts: { version: string; metricsPath: string; targets?: string[] }): string {
  const v = escapeHtml(opts.version);
  const m = escapeHtml(opts.metricsPath);
  const targets = opts.targets ?? [];
  const probe =
    targets.length === 0
      ? ''
      : `<h2>Targets</h2>
<ul>
${targets.map((t) => `<li><a href="/probe?target=${encodeURIComponent(t)}">${escapeHtml(t)}</a></li>`).join('\n')}
</ul>
<form action="/probe" method="get">
<label>Target <select name="target">${targets.map((t) => `<option>${escapeHtml(t)}</option>`).join('')}</select></label>
<button type="submit">Probe</button>
</form>
`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>strongSwan Exporter</title>
<style>
body { font-family: system-ui, -apple-system, sans-serif; margin: 0; color: #222; }
header { background: #e6522c; color: #fff; padding: 1em 2em; }
header h1 { margin: 0; font-size: 1.6em; }
header p { margin: .3em 0 0; }
main { padding: 1em 2em; }
a { color: #c0392b; }
code { background: #f4f4f4; padding: 0 .3em; border-radius: 3px; }
li { margin: .3em 0; }
</style>
</head>
<body>
<header><h1>strongSwan Exporter</h1><p>Prometheus exporter for the strongSwan IPsec daemon (charon), over its VICI socket.</p></header>
<main>
<p>Version: <code>${v}</code></p>
<ul>
<li><a href="${m}">Metrics</a></li>
<li><a href="/-/healthy">Health</a></li>
<li><a href="/-/ready">Readiness</a></li>
</ul>
${probe}</main>
</body>
</html>
`;
}
