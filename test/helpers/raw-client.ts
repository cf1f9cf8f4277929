import { connect, type Socket } from 'node:net';

/** A raw client socket: what it received, and whether the server has closed it. */
export interface RawClient {
  readonly socket: Socket;
  received(): string;
  closed(): boolean;
}

/** Connects a raw TCP client to the host and port of `url`, for requests written byte by byte. */
export async function openRawClient(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined); // a reset is the server closing the connection, as the tests intend
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, received: () => data, closed: () => closed };
}
