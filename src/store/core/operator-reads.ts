import type { OperatorReads, OperatorReadsAdapter } from '../operator-reads.js';
import type { Availability } from './availability.js';

/** The operators' reads (src/store/operator-reads.ts) as the store gives them: each through the core's read gate. */
export function guardOperatorReads(reads: OperatorReadsAdapter, store: Availability): OperatorReads {
  return {
    searchDeliveries: (search) => store.read('read deliveries', () => reads.searchDeliveries(search)),
    callsWithId: (callId) => store.read('read calls', () => reads.callsWithId(callId)),
    callsWithNumber: (digits, limit) => store.read('read calls', () => reads.callsWithNumber(digits, limit)),
    listEvents: (search) => store.read('read events', () => reads.listEvents(search)),
    eventsOfCall: (callId, limit) => store.read('read events', () => reads.eventsOfCall(callId, limit)),
    deliveriesOfCall: (callId, limit) => store.read('read deliveries', () => reads.deliveriesOfCall(callId, limit)),
    lastErrors: (connectors) => store.read('read deliveries', () => reads.lastErrors(connectors)),
    countDeliveries: (search) => store.read('count deliveries', () => reads.countDeliveries(search)),
    activityAfter: (after, limit) => store.read('read activity', () => reads.activityAfter(after, limit)),
  };
}
