/** A mistake in how the command was called: printed with the usage text, exit 64 (EX_USAGE). */
export class UsageError extends Error {}

/** A failure the user can fix from one line of explanation (no stack trace): a missing file, a port in use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
