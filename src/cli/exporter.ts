// Placeholder replaced by the exporter's flag parsing and server start-up.
export async function runExporter(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: strongswan_exporter [flags] | strongswan_exporter query COMMAND ...\n');
    return 0;
  }
  throw new Error('the exporter is not built yet; use the query command');
}
