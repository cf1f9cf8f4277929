/**
 * Under CI a missing server (a broker, a database) is a failure; elsewhere the
 * tests that need it are skipped, loudly, with what would make them run (a
 * global setup says it; a test file skipped after it need not say it again).
 */
export function skipOrFail(what: string, reason: string, remedy?: string): void {
  if (process.env.CI === 'true') throw new Error(`${what} cannot run under CI=true: ${reason}`);
  const line = '='.repeat(78);
  process.stderr.write(`\n${line}\n${what.toUpperCase()} SKIPPED: ${reason}\n${remedy ? `${remedy}\n` : ''}${line}\n\n`);
}
