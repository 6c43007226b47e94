/** A failure that is the user's situation, not a bug (a missing file, a full disk): one line, exit status 1. */
export class CliError extends Error {
  override name = 'CliError';
}
