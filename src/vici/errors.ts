// The whole error hierarchy of the VICI client. Every failure the client reports is one of these;
// messages never carry message bodies or secrets, only the operation and the address.

export type ViciErrorCode =
  | 'VICI_CONNECT'
  | 'VICI_CLOSED'
  | 'VICI_TIMEOUT'
  | 'VICI_PROTOCOL'
  | 'VICI_ENCODE'
  | 'CMD_UNKNOWN'
  | 'EVENT_UNKNOWN'
  | 'VICI_COMMAND_FAILED';

export abstract class ViciError extends Error {
  abstract readonly code: ViciErrorCode;
}

/** The socket could not be opened (missing, permission denied, refused, connect timeout). */
export class ViciConnectError extends ViciError {
  readonly code = 'VICI_CONNECT' as const;
  override name = 'ViciConnectError';
}

/** The connection was lost (EOF, reset, closed by us) while a call was pending. */
export class ViciClosedError extends ViciError {
  readonly code = 'VICI_CLOSED' as const;
  override name = 'ViciClosedError';
}

/** No complete reply in time. The connection has been destroyed: VICI has no request ids. */
export class ViciTimeoutError extends ViciError {
  readonly code = 'VICI_TIMEOUT' as const;
  override name = 'ViciTimeoutError';
}

/** Bad frame length, packet type or message element from the peer; the connection is dropped. */
export class ViciProtocolError extends ViciError {
  readonly code = 'VICI_PROTOCOL' as const;
  override name = 'ViciProtocolError';
}

/** Something we were asked to send cannot be encoded (name too long, value too long, bad name). */
export class ViciEncodeError extends ViciError {
  readonly code = 'VICI_ENCODE' as const;
  override name = 'ViciEncodeError';
}

/** The daemon answered CMD_UNKNOWN: it has no handler for this command. */
export class ViciUnknownCommandError extends ViciError {
  readonly code = 'CMD_UNKNOWN' as const;
  override name = 'ViciUnknownCommandError';
  constructor(readonly command: string) {
    super(`${command}: command unknown to the daemon`);
  }
}

/** The daemon answered EVENT_UNKNOWN to a (un)registration: no such event in this daemon. */
export class ViciUnknownEventError extends ViciError {
  readonly code = 'EVENT_UNKNOWN' as const;
  override name = 'ViciUnknownEventError';
  constructor(readonly event: string) {
    super(`${event}: event unknown to the daemon`);
  }
}

/** The command ran but answered `success = no`; `errmsg` is the daemon's text, verbatim. */
export class ViciCommandError extends ViciError {
  readonly code = 'VICI_COMMAND_FAILED' as const;
  override name = 'ViciCommandError';
  constructor(
    readonly command: string,
    readonly errmsg: string,
  ) {
    super(`${command}: ${errmsg || 'failed without an error message'}`);
  }
}

export function isViciError(err: unknown): err is ViciError {
  return err instanceof ViciError;
}
