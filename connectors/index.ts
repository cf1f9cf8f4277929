import { fileConnector } from './file/index.js';
import { httpConnector } from './http/index.js';
import { kafkaConnector } from './kafka/index.js';
import { slackConnector } from './slack/index.js';
import { transcriptConnector } from './transcript/index.js';
import type { ConnectorDefinition } from './types.js';

/** Every connector type by the name used in config `type:`. */
export const CONNECTORS: Readonly<Record<string, ConnectorDefinition>> = {
  file: fileConnector,
  http: httpConnector,
  kafka: kafkaConnector,
  slack: slackConnector,
  transcript: transcriptConnector,
};

export type { Connector, ConnectorContext, ConnectorDefinition, Delivery, SendResult } from './types.js';
