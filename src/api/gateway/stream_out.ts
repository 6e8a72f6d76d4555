// The answer side of a streamed call over HTTP/1.1: each response is a `{"result":...}` line of a
// chunked body (grpc-gateway's ForwardResponseStream with its "\n" delimiter), written with the head
// on the first one (grpc-gateway waits for the call's headers, which come with its first message).
// A failure is a last `{"error":{...}}` chunk, under the error's HTTP status when it comes first.
// A write's `done` runs once the line is handed to the socket (Node's write callback), so handlers
// that pace themselves on it stop when the client stops reading; the call ends when the client goes.
import type { ServerResponse } from 'node:http';
import type { Type } from 'protobufjs';
import type { Context } from '../grpc/call.ts';
import type { GrpcRouter, Response, StreamOut } from '../grpc/router.ts';
import { StatusError, type GrpcStatus } from '../grpc/status.ts';
import { GRPC_PREFIX } from '../http/grpc_message.ts';
import { messageJson } from './jsonpb.ts';
import { streamErrorChunk, streamFailure, streamHead } from './responses.ts';

export type Method = NonNullable<ReturnType<GrpcRouter['lookup']>>;

export class JsonStreamOut implements StreamOut {
  private over = false;
  private readonly onClosed: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly m: Method,
    private readonly type: Type,
    private readonly ctx: Context,
  ) {
    res.once('close', () => this.finish());
  }

  get closed(): boolean {
    return this.over;
  }

  /** Runs `f` once when the call is over (answered, failed, or the client gone). */
  onClose(f: () => void): void {
    if (this.over) f();
    else this.onClosed.push(f);
  }

  write(msg: Response, done?: () => void): void {
    if (this.over) return;
    let bytes: Uint8Array;
    try {
      bytes = msg instanceof Uint8Array ? msg : this.m.encode(msg);
    } catch (err) {
      return this.fail(err);
    }
    this.send(this.line(bytes), done);
  }

  /** gRPC-framed responses (the Watch stream's batches): one line each. */
  writeFramed(b: Buffer, done?: () => void): void {
    if (this.over) return;
    let text = '';
    for (let at = 0; at + GRPC_PREFIX <= b.length;) {
      const len = b.readUInt32BE(at + 1);
      text += this.line(b.subarray(at + GRPC_PREFIX, at + GRPC_PREFIX + len));
      at += GRPC_PREFIX + len;
    }
    this.send(text, done);
  }

  end(): void {
    if (this.over || this.res.writableEnded) return this.finish();
    if (!this.res.headersSent) streamHead(this.res, true);
    this.res.end();
    this.finish();
  }

  fail(err: unknown): void {
    if (this.over || this.res.writableEnded) return this.finish();
    const st: GrpcStatus = err instanceof StatusError ? err : this.m.errors(err, this.ctx.path);
    if (!this.res.headersSent) streamFailure(this.res, st);
    else this.res.end(streamErrorChunk(st));
    this.finish();
  }

  /** Ends the call with a status (what a guard may do to a running stream). */
  status(st: GrpcStatus): void {
    this.fail(new StatusError(st.code, st.details));
  }

  get isOver(): boolean {
    return this.over;
  }

  private line(bytes: Uint8Array): string {
    return `{"result":${messageJson(this.type.decode(bytes), this.type)}}\n`;
  }

  private send(text: string, done?: () => void): void {
    // Ended from outside (the client's deadline) and not yet closed: nothing more goes out.
    if (this.res.writableEnded) return;
    if (!this.res.headersSent) streamHead(this.res);
    this.res.write(text, done === undefined ? undefined : () => done());
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.ctx.abort();
    for (const f of this.onClosed.splice(0)) f();
  }
}
