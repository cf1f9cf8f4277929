/**
 * The connector contract, defined in the SDK (src/sdk/connector.ts) and
 * re-exported here for the core code that drives connectors. In short:
 *
 * - each folder exports one `ConnectorDefinition`: its `type` name, its
 *   options' schema, `batchSize`, `maxPerCall` (how many deliveries of one
 *   call a batch may carry) and `create`, which does no I/O;
 * - the instance has `start` / `send` / `stop` for the dispatcher, and
 *   `preview(event)`: what `send` would do with the event (`send` with the
 *   target and the message, secrets redacted; `skip` and why; `fail` and
 *   why), with no side effect, before or after `start`;
 * - `send` classifies each delivery's failure itself (`retriable` or
 *   `permanent`, with `Retry-After`), and one bad delivery never fails the
 *   others of its batch.
 */
export type {
  Connector,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorRegistry,
  ConnectorState,
  Delivery,
  Preview,
  Previewer,
  SendResult,
} from '../src/sdk/index.js';
