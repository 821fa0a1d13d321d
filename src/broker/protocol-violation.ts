/** An error that ends a connection with a reason code (DISCONNECT for v5, a plain close for 3.1.1). */
export class ProtocolViolation extends Error {
  constructor(
    readonly reasonCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolViolation';
  }
}
