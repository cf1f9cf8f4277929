/**
 * The one module connectors import from the core: the canonical event, the
 * templates, the option value schemas, the connector contract and its result
 * helpers, and how a call's transcript lines are read from its events. Connectors import nothing else from `src/` (their vendor clients
 * they import themselves), so the core can change behind this module.
 */
export type { CallInfo, CanonicalEvent, EventData } from '../dialects/index.js';
export { compileTemplate, lookupPath, placeholderValue, wellFormed, type Template, type TemplatePiece } from '../template.js';
export { boolean, byteSize, duration, integer, jsonataExpression, nonEmpty, oneOrMany, pem, secret, template, writtenForms } from '../config/values.js';
export { finalTranscriptOf, segmentOf, type TranscriptSegment } from '../lifecycle/summary.js';
export {
  createRegistry,
  memoryState,
  permanent,
  retriable,
  sent,
  skipped,
  type Connector,
  type ConnectorContext,
  type ConnectorFault,
  type ConnectorDefinition,
  type ConnectorRegistry,
  type ConnectorState,
  type Delivery,
  type Preview,
  type Previewer,
  type ProbeResult,
  type SendResult,
} from './connector.js';
