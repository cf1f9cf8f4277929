import { createRegistry, type ConnectorRegistry } from '../src/sdk/index.js';
import { fileConnector } from './file/index.js';
import { httpConnector } from './http/index.js';
import { kafkaConnector } from './kafka/index.js';
import { slackConnector } from './slack/index.js';
import { transcriptConnector } from './transcript/index.js';

/**
 * Every connector type, keyed by its `type` name (spelled once, in its own
 * folder). Loading this module loads every vendor client (kafkajs,
 * @slack/web-api): the config module takes the registry as an argument and
 * the CLI imports it only in the commands that build connectors.
 */
export const CONNECTORS: ConnectorRegistry = createRegistry([fileConnector, httpConnector, kafkaConnector, slackConnector, transcriptConnector]);

export type { Connector, ConnectorContext, ConnectorDefinition, ConnectorRegistry, Delivery, Preview, SendResult } from '../src/sdk/index.js';
