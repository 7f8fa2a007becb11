// The VICI client: strongSwan's Versatile IKE Control Interface, spoken over a unix or TCP socket.
// Layers, bottom up: codec.ts (message elements <-> section tree), packet.ts (packet types, framing),
// transport.ts (addresses, sockets), connection.ts (one socket, one call at a time, event routing),
// client.ts (the session: lazy connect, timeouts, streamed listings, subscriptions, reconnects).

export * from './client.js';
export * from './codec.js';
export * from './errors.js';
export * from './json.js';
export * from './message.js';
export * from './packet.js';
export * from './transport.js';
