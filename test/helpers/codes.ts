import { BridgeError } from '../../src/errors.js';

/** The code of the BridgeError `run` throws, or undefined when it returns; other errors propagate. */
export function errorCodeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    if (err instanceof BridgeError) return err.code;
    throw err;
  }
}
