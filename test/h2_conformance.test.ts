// HTTP/2 conformance of the client port: the rules of RFC 9113 (HTTP/2) and RFC 7541 (HPACK) a
// server must follow, with h2spec's test cases as the checklist (its generic/, http2/ and hpack/
// sections, numbered as h2spec numbers them), plus a few RFC 9113 rules h2spec does not check. Each
// case opens its own raw connection to a member's real client server (startInProcess: the gRPC router
// over a real member), does what h2spec does, and waits for what the RFC demands.
//
// The requests are gRPC calls (KV Range of a key), not h2spec's GET /: tetcd serves gRPC only. Where
// tetcd departs from a general HTTP/2 server on purpose, the test name says so.
//
// Expectations follow h2spec's verifications, except that a connection error must come as a GOAWAY
// with the right code (h2spec also accepts a bare close; RFC 9113 5.4.1 says SHOULD send GOAWAY, and
// h2spec 5.4.1 requires it), and a stream error may come as the connection error of the same code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeInt } from '../src/api/http/hpack.ts';
import { startInProcess, type InProcess } from './grpc_inprocess.ts';
import { startServer, type ServerHandle } from './helpers/procs.ts';
import { SpecConn } from './helpers/h2_spec_conn.ts';
import {
  ACK,
  COMPRESSION_ERROR,
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  GOAWAY,
  HEADERS,
  KV_RANGE,
  PADDED,
  PING,
  PREFACE,
  PRIORITY,
  PRIORITY_FLAG,
  PROTOCOL_ERROR,
  PUSH_PROMISE,
  REFUSED_STREAM,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  STREAM_CLOSED,
  frame,
  goAwayFrame,
  grpcMessage,
  grpcRequestFields,
  literalBlock,
  ping,
  priorityFrame,
  rangeRequest,
  rstStream,
  settingsFrame,
  u32,
  windowUpdate,
  type Header,
} from './helpers/h2_wire.ts';

const KEY = 'conformance/key';
const VALUE = 'v'.repeat(64);

let member: InProcess;
let port: number;

before(async () => {
  member = await startInProcess();
  port = Number(member.endpoint.split(':')[1]);
  await member.client.put(KEY, VALUE);
});

after(async () => {
  await member.close();
});

// ---- requests: a gRPC Range of KEY

/** The Range request's gRPC message (its answer carries the 64-byte value: DATA to pace). */
const MSG = grpcMessage(rangeRequest(KEY));
const fields = (extra: readonly Header[] = []): Header[] => grpcRequestFields(KV_RANGE, extra);
const block = (extra: readonly Header[] = []): Buffer => literalBlock(fields(extra));
const headers = (id: number, flags: number, b: Buffer = block()): Buffer => frame(HEADERS, flags, id, b);
const data = (id: number, flags: number, p: Buffer = MSG): Buffer => frame(DATA, flags, id, p);
/** The first bytes of the message: the call waits for the rest, so the stream stays open. */
const PART = MSG.subarray(0, 3);
/** HEADERS, then the message in one DATA frame ending the stream. */
const request = (id: number, b: Buffer = block()): Buffer =>
  Buffer.concat([headers(id, END_HEADERS, b), data(id, END_STREAM)]);
/** A padded payload: pad length byte, payload, `pad` zero bytes. */
const padded = (p: Buffer, pad: number): Buffer => Buffer.concat([Buffer.from([pad]), p, Buffer.alloc(pad)]);
/** A priority block (stream dependency, weight) before a HEADERS payload. */
const prio = (dep: number, weight = 15, exclusive = false): Buffer => {
  const b = Buffer.alloc(5);
  b.writeUInt32BE((dep | (exclusive ? 0x80000000 : 0)) >>> 0, 0);
  b[4] = weight;
  return b;
};

/** One raw connection per case, after h2spec's handshake (SETTINGS `pairs`). */
function spec(name: string, run: (c: SpecConn) => Promise<void>, pairs: [number, number][] = []): void {
  test(name, async () => {
    const c = await SpecConn.open(port, pairs);
    try {
      await run(c);
    } finally {
      c.close();
    }
  });
}

/** The member still serves a fresh connection (a case must not break the server). */
async function stillServes(): Promise<void> {
  const c = await SpecConn.open(port);
  try {
    c.send(request(1));
    await c.streamClosed(1);
    c.noError();
  } finally {
    c.close();
  }
}

// ---- HPACK pieces

/** A string literal (RFC 7541 5.2): raw, or already Huffman-coded bytes. */
const str = (s: string | Buffer, huffman = false): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([writeInt(b.length, 7, huffman ? 0x80 : 0), b]);
};
/** Huffman codings from RFC 7541 C.4. */
const HUFF_AUTHORITY = Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'); // www.example.com
const HUFF_CUSTOM_KEY = Buffer.from('25a849e95ba97d7f', 'hex'); // custom-key
const HUFF_CUSTOM_VALUE = Buffer.from('25a849e95bb8e8b4bf', 'hex'); // custom-value
/** The request without :authority (its representation is the case), pseudo-headers first. */
const withAuthority = (rep: Buffer): Buffer =>
  Buffer.concat([
    literalBlock(fields().filter(([n]) => n.startsWith(':') && n !== ':authority')),
    rep,
    literalBlock(fields().filter(([n]) => !n.startsWith(':'))),
  ]);
/** The request with one more field, `rep`, at its end. */
const withField = (rep: Buffer): Buffer => Buffer.concat([block(), rep]);

// =====================================================================================================
describe('generic: the server accepts what a client may send', { concurrency: 8 }, () => {
  spec(
    'generic 1/1: the client connection preface is accepted (the server SETTINGS comes first)',
    async (c) => {
      assert.equal(c.frames[0]!.type, SETTINGS, 'the server preface is a SETTINGS frame');
      assert.equal(c.frames[0]!.flags & ACK, 0);
      await c.pingAck();
    },
  );

  spec('generic 2/1: a PRIORITY frame on an idle stream is accepted', async (c) => {
    c.send(priorityFrame(1, 0, 255));
    await c.pingAck();
  });

  spec(
    'generic 2/2: a WINDOW_UPDATE on a half-closed (remote) stream is accepted (DATA follows)',
    async (c) => {
      c.send(request(1), windowUpdate(1, 1));
      await c.dataOn(1);
      c.noError();
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
  );

  spec(
    'generic 2/3: a PRIORITY on a half-closed (remote) stream is accepted (DATA follows)',
    async (c) => {
      c.send(request(1), priorityFrame(1, 0, 255), windowUpdate(1, 1));
      await c.dataOn(1);
      c.noError();
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
  );

  spec('generic 2/4: a RST_STREAM on a half-closed (remote) stream is accepted', async (c) => {
    c.send(request(1), rstStream(1, 0x8));
    await c.pingAckOrClose();
  });

  spec('generic 2/5: a PRIORITY on a closed stream is accepted', async (c) => {
    c.send(request(1));
    await c.streamClosed(1);
    c.send(priorityFrame(1, 0, 255));
    await c.pingAck();
  });

  spec('generic 3.1/1: a DATA frame (the request message) is accepted', async (c) => {
    c.send(request(1));
    await c.headersOn(1);
  });

  spec('generic 3.1/2: multiple DATA frames (one message in three) are accepted', async (c) => {
    c.send(
      headers(1, END_HEADERS),
      data(1, 0, MSG.subarray(0, 3)),
      data(1, 0, MSG.subarray(3, 10)),
      data(1, END_STREAM, MSG.subarray(10)),
    );
    await c.headersOn(1);
    await c.streamClosed(1);
    c.noError();
  });

  spec('generic 3.1/3: a DATA frame with padding is accepted', async (c) => {
    c.send(headers(1, END_HEADERS), data(1, END_STREAM | PADDED, padded(MSG, 8)));
    await c.headersOn(1);
    await c.streamClosed(1);
    c.noError();
  });

  spec('generic 3.2/1: a HEADERS frame is accepted', async (c) => {
    c.send(request(1));
    await c.headersOn(1);
  });

  spec('generic 3.2/2: a HEADERS frame with padding is accepted', async (c) => {
    c.send(headers(1, END_HEADERS | PADDED, padded(block(), 16)), data(1, END_STREAM));
    await c.headersOn(1);
    c.noError();
  });

  spec('generic 3.2/3: a HEADERS frame with priority is accepted', async (c) => {
    c.send(
      headers(1, END_HEADERS | PRIORITY_FLAG, Buffer.concat([prio(0, 255), block()])),
      data(1, END_STREAM),
    );
    await c.headersOn(1);
    c.noError();
  });

  for (const [n, what, pf] of [
    [1, 'priority 1', priorityFrame(1, 0, 0)],
    [2, 'priority 256', priorityFrame(1, 0, 255)],
    [3, 'a stream dependency', priorityFrame(1, 3, 15)],
    [4, 'the exclusive flag', priorityFrame(1, 3, 15, true)],
  ] as const) {
    spec(`generic 3.3/${n}: a PRIORITY frame with ${what} is accepted`, async (c) => {
      c.send(pf, request(1));
      await c.headersOn(1);
      c.noError();
    });
  }

  spec(
    'generic 3.3/5: a PRIORITY for an idle stream, then HEADERS on a lower stream, is answered',
    async (c) => {
      c.send(priorityFrame(3, 0, 15), request(1));
      await c.headersOn(1);
      c.noError();
    },
  );

  spec('generic 3.4/1: a RST_STREAM frame is accepted', async (c) => {
    c.send(headers(1, END_HEADERS), rstStream(1, 0x8));
    await c.pingAckOrClose();
  });

  spec('generic 3.5/1: a SETTINGS frame is acknowledged', async (c) => {
    const before = c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length;
    c.send(settingsFrame([[SETTINGS_MAX_CONCURRENT_STREAMS, 100]]));
    await c.until(
      () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length > before ? true : undefined),
      'SETTINGS ACK',
    );
  });

  spec('generic 3.7/1: a PING frame is answered', async (c) => {
    await c.pingAck(Buffer.from('01234567'));
  });

  spec('generic 3.8/1: a GOAWAY frame from the client is accepted', async (c) => {
    c.send(goAwayFrame(0, 0));
    await c.pingAckOrClose();
  });

  spec('generic 3.9/1: a WINDOW_UPDATE on stream 0 is accepted', async (c) => {
    c.send(windowUpdate(0, 1));
    await c.pingAck();
  });

  spec('generic 3.9/2: a WINDOW_UPDATE on an open stream is accepted', async (c) => {
    c.send(headers(1, END_HEADERS), windowUpdate(1, 1), data(1, END_STREAM));
    await c.headersOn(1);
    c.noError();
  });

  spec('generic 3.10/1: a CONTINUATION frame is accepted', async (c) => {
    const b = block();
    c.send(
      frame(HEADERS, 0, 1, b.subarray(0, 20)),
      frame(CONTINUATION, END_HEADERS, 1, b.subarray(20)),
      data(1, END_STREAM),
    );
    await c.headersOn(1);
    c.noError();
  });

  spec('generic 3.10/2: multiple CONTINUATION frames are accepted', async (c) => {
    const b = block();
    c.send(
      frame(HEADERS, 0, 1, b.subarray(0, 10)),
      frame(CONTINUATION, 0, 1, b.subarray(10, 30)),
      frame(CONTINUATION, 0, 1, b.subarray(30, 50)),
      frame(CONTINUATION, END_HEADERS, 1, b.subarray(50)),
      data(1, END_STREAM),
    );
    await c.headersOn(1);
    c.noError();
  });

  spec(
    'generic 4/1: a GET request is answered (tetcd serves gRPC only: a gRPC status, UNIMPLEMENTED)',
    async (c) => {
      const get = literalBlock(fields().map(([n, v]) => [n, n === ':method' ? 'GET' : v] as Header));
      c.send(headers(1, END_HEADERS | END_STREAM, get));
      const h = await c.headersOn(1);
      assert.equal(h.fields?.find(([n]) => n === 'grpc-status')?.[1], '12');
    },
  );

  spec(
    'generic 4/2: a HEAD request is answered (tetcd serves gRPC only: a gRPC status, UNIMPLEMENTED)',
    async (c) => {
      const head = literalBlock(fields().map(([n, v]) => [n, n === ':method' ? 'HEAD' : v] as Header));
      c.send(headers(1, END_HEADERS | END_STREAM, head));
      const h = await c.headersOn(1);
      assert.equal(h.fields?.find(([n]) => n === 'grpc-status')?.[1], '12');
    },
  );

  spec('generic 4/3: a POST request is answered', async (c) => {
    c.send(request(1));
    const h = await c.headersOn(1);
    assert.equal(h.fields?.find(([n]) => n === ':status')?.[1], '200');
    await c.streamClosed(1);
    c.noError();
  });

  spec('generic 4/4: a POST request with trailers is answered', async (c) => {
    c.send(
      headers(1, END_HEADERS),
      data(1, 0),
      headers(1, END_HEADERS | END_STREAM, literalBlock([['x-trailer', 'ok']])),
    );
    await c.headersOn(1);
    await c.streamClosed(1);
    c.noError();
  });

  const hpackCases: [string, Buffer][] = [
    [
      'an indexed header field (:method POST, static index 3)',
      Buffer.concat([Buffer.from([0x83]), block().subarray(literalBlock([[':method', 'POST']]).length)]),
    ],
    [
      'a literal with incremental indexing, indexed name',
      withAuthority(Buffer.concat([Buffer.from([0x41]), str('127.0.0.1')])),
    ],
    [
      'a literal with incremental indexing, indexed name, Huffman',
      withAuthority(Buffer.concat([Buffer.from([0x41]), str(HUFF_AUTHORITY, true)])),
    ],
    [
      'a literal with incremental indexing, new name',
      withField(Buffer.concat([Buffer.from([0x40]), str('custom-key'), str('custom-value')])),
    ],
    [
      'a literal with incremental indexing, new name, Huffman',
      withField(
        Buffer.concat([Buffer.from([0x40]), str(HUFF_CUSTOM_KEY, true), str(HUFF_CUSTOM_VALUE, true)]),
      ),
    ],
    [
      'a literal without indexing, indexed name',
      withAuthority(Buffer.concat([Buffer.from([0x01]), str('127.0.0.1')])),
    ],
    [
      'a literal without indexing, indexed name, Huffman',
      withAuthority(Buffer.concat([Buffer.from([0x01]), str(HUFF_AUTHORITY, true)])),
    ],
    [
      'a literal without indexing, new name',
      withField(Buffer.concat([Buffer.from([0x00]), str('custom-key'), str('custom-value')])),
    ],
    [
      'a literal without indexing, new name, Huffman',
      withField(
        Buffer.concat([Buffer.from([0x00]), str(HUFF_CUSTOM_KEY, true), str(HUFF_CUSTOM_VALUE, true)]),
      ),
    ],
    [
      'a literal never indexed, indexed name',
      withAuthority(Buffer.concat([Buffer.from([0x11]), str('127.0.0.1')])),
    ],
    [
      'a literal never indexed, indexed name, Huffman',
      withAuthority(Buffer.concat([Buffer.from([0x11]), str(HUFF_AUTHORITY, true)])),
    ],
    [
      'a literal never indexed, new name',
      withField(Buffer.concat([Buffer.from([0x10]), str('custom-key'), str('custom-value')])),
    ],
    [
      'a literal never indexed, new name, Huffman',
      withField(
        Buffer.concat([Buffer.from([0x10]), str(HUFF_CUSTOM_KEY, true), str(HUFF_CUSTOM_VALUE, true)]),
      ),
    ],
    ['a dynamic table size update', Buffer.concat([writeInt(256, 5, 0x20), block()])],
    [
      'multiple dynamic table size updates',
      Buffer.concat([writeInt(0, 5, 0x20), writeInt(4096, 5, 0x20), block()]),
    ],
  ];
  hpackCases.forEach(([what, b], i) => {
    spec(`generic 5/${i + 1}: ${what} is accepted`, async (c) => {
      c.send(request(1, b));
      await c.headersOn(1);
      await c.streamClosed(1);
      c.noError();
    });
  });

  spec('generic 5/1b: a field indexed in the dynamic table is used by the next request', async (c) => {
    const custom = Buffer.concat([Buffer.from([0x40]), str('custom-key'), str('custom-value')]);
    c.send(request(1, withField(custom)));
    await c.streamClosed(1);
    // Index 62: the newest dynamic entry.
    c.send(request(3, withField(Buffer.from([0x80 | 62]))));
    await c.headersOn(3);
    await c.streamClosed(3);
    c.noError();
  });
});

// =====================================================================================================
describe('http2 3.5: HTTP/2 connection preface', { concurrency: 8 }, () => {
  spec('3.5/1: the server connection preface (SETTINGS) is the first frame the server sends', async (c) => {
    assert.equal(c.frames[0]!.type, SETTINGS);
    assert.equal(c.frames[0]!.flags & ACK, 0);
  });

  test("3.5/2: an invalid connection preface ends the connection (tetcd: the bytes go to its HTTP/1.1 server, which answers 400 and closes, as etcd's cmux does)", async () => {
    const c = await SpecConn.connect(port);
    try {
      c.send(Buffer.from('INVALID CONNECTION PREFACE\r\n\r\n'));
      await c.waitClosed();
      const text = c.raw.toString('latin1');
      assert.ok(
        text === '' || text.startsWith('HTTP/1.1 400') || c.find((f) => f.type === GOAWAY),
        `got ${JSON.stringify(text.slice(0, 60))}`,
      );
    } finally {
      c.close();
    }
  });

  test('3.5/3 (RFC 9113 3.4): a preface followed by a frame other than SETTINGS is a connection error PROTOCOL_ERROR', async () => {
    const c = await SpecConn.connect(port);
    try {
      c.send(PREFACE, ping(Buffer.alloc(8)));
      await c.connectionError(PROTOCOL_ERROR);
    } finally {
      c.close();
    }
  });
});

describe('http2 4.1: frame format', { concurrency: 8 }, () => {
  spec('4.1/1: a frame of unknown type is ignored', async (c) => {
    c.send(frame(0x16, 0, 0, Buffer.from('unknown')));
    await c.pingAck();
  });

  spec('4.1/2: undefined flags are ignored', async (c) => {
    const d = Buffer.from('flags!!!');
    c.send(frame(PING, 0x16, 0, d));
    await c.until(
      () => c.find((f) => f.type === PING && (f.flags & ACK) !== 0 && f.payload.equals(d)),
      'PING ACK',
    );
    c.noError();
  });

  spec('4.1/3: the reserved bit of the stream identifier is ignored', async (c) => {
    const f = frame(PING, 0, 0, Buffer.from('reserved'));
    f[5] = 0x80;
    c.send(f);
    await c.until(() => c.find((x) => x.type === PING && (x.flags & ACK) !== 0), 'PING ACK');
    c.noError();
  });
});

describe('http2 4.2: frame size', { concurrency: 8 }, () => {
  spec('4.2/1: a DATA frame of 2^14 octets is accepted', async (c) => {
    // A Range of a 16,376-byte key: prefix (5) + tag (1) + length (2) + key = 16,384.
    const msg = grpcMessage(rangeRequest('k'.repeat(16_376)));
    assert.equal(msg.length, 16_384);
    c.send(headers(1, END_HEADERS), data(1, END_STREAM, msg));
    await c.headersOn(1);
    c.noError();
  });

  spec('4.2/2: a DATA frame larger than SETTINGS_MAX_FRAME_SIZE is FRAME_SIZE_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), data(1, END_STREAM, Buffer.alloc(16_385)));
    await c.streamError(1, FRAME_SIZE_ERROR);
  });

  spec(
    '4.2/3: a HEADERS frame larger than SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR',
    async (c) => {
      const big = block([['x-dummy', 'd'.repeat(17_000)]]);
      c.send(headers(1, END_HEADERS | END_STREAM, big));
      await c.connectionError(FRAME_SIZE_ERROR);
    },
  );
});

describe('http2 4.3: header compression and decompression', { concurrency: 8 }, () => {
  spec('4.3/1: an invalid header block fragment is a connection error COMPRESSION_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS | END_STREAM, Buffer.from([0x40])));
    await c.connectionError(COMPRESSION_ERROR);
  });

  spec('4.3/2: a PRIORITY frame inside a header block is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(
      headers(1, 0),
      priorityFrame(1, 0, 255),
      frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy', 'd']])),
    );
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '4.3/3: HEADERS of another stream inside a header block is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(
        headers(1, 0),
        headers(3, END_HEADERS | END_STREAM),
        frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy', 'd']])),
      );
      await c.connectionError(PROTOCOL_ERROR);
    },
  );
});

describe('http2 5.1: stream states', { concurrency: 8 }, () => {
  spec(
    '5.1/1: idle: DATA is a connection error PROTOCOL_ERROR (tetcd: always the connection error)',
    async (c) => {
      c.send(data(1, END_STREAM, Buffer.from('test')));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec('5.1/2: idle: RST_STREAM is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(rstStream(1, 0x8));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('5.1/3: idle: WINDOW_UPDATE is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(windowUpdate(1, 100));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('5.1/4: idle: CONTINUATION is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(frame(CONTINUATION, END_HEADERS, 1, block()));
    await c.connectionError(PROTOCOL_ERROR);
  });

  // Half-closed (remote): the request is whole, the answer held by a window of 0.
  spec(
    '5.1/5: half closed (remote): DATA is a stream error STREAM_CLOSED',
    async (c) => {
      c.send(request(1), data(1, END_STREAM, Buffer.from('test')));
      await c.streamError(1, STREAM_CLOSED);
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
  );

  spec(
    '5.1/6: half closed (remote): HEADERS is a stream error STREAM_CLOSED',
    async (c) => {
      c.send(request(1), headers(1, END_HEADERS | END_STREAM));
      await c.streamError(1, STREAM_CLOSED);
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
  );

  spec(
    '5.1/7: half closed (remote): CONTINUATION is a stream error STREAM_CLOSED (or PROTOCOL_ERROR)',
    async (c) => {
      c.send(request(1), frame(CONTINUATION, END_HEADERS, 1, block()));
      await c.streamError(1, STREAM_CLOSED, PROTOCOL_ERROR);
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 0]],
  );

  spec("5.1/8: closed: DATA after the client's RST_STREAM is a stream error STREAM_CLOSED", async (c) => {
    c.send(headers(1, END_HEADERS), rstStream(1, 0x8), data(1, END_STREAM, Buffer.from('test')));
    await c.streamError(1, STREAM_CLOSED);
  });

  spec("5.1/9: closed: HEADERS after the client's RST_STREAM is a stream error STREAM_CLOSED", async (c) => {
    c.send(headers(1, END_HEADERS), rstStream(1, 0x8), headers(1, END_HEADERS | END_STREAM));
    await c.streamError(1, STREAM_CLOSED);
  });

  spec(
    "5.1/10: closed: CONTINUATION after the client's RST_STREAM is a stream error STREAM_CLOSED (or PROTOCOL_ERROR)",
    async (c) => {
      c.send(
        headers(1, END_HEADERS),
        rstStream(1, 0x8),
        frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy', 'd']])),
      );
      await c.streamError(1, STREAM_CLOSED, PROTOCOL_ERROR);
    },
  );

  spec('5.1/11: closed: DATA after both ends ended the stream is STREAM_CLOSED', async (c) => {
    c.send(request(1));
    await c.streamClosed(1);
    c.send(data(1, END_STREAM, Buffer.from('test')));
    await c.streamError(1, STREAM_CLOSED);
  });

  spec(
    '5.1/12: closed: HEADERS after both ends ended the stream is a connection error STREAM_CLOSED',
    async (c) => {
      c.send(request(1));
      await c.streamClosed(1);
      c.send(headers(1, END_HEADERS | END_STREAM));
      await c.connectionError(STREAM_CLOSED, PROTOCOL_ERROR);
    },
  );

  spec(
    '5.1/13: closed: CONTINUATION after both ends ended the stream is a connection error STREAM_CLOSED (or PROTOCOL_ERROR)',
    async (c) => {
      c.send(request(1));
      await c.streamClosed(1);
      c.send(frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy', 'd']])));
      await c.connectionError(STREAM_CLOSED, PROTOCOL_ERROR);
    },
  );
});

describe('http2 5.1.1: stream identifiers', { concurrency: 8 }, () => {
  spec('5.1.1/1: an even-numbered stream identifier is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(request(2));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '5.1.1/2: a stream identifier lower than a previous one is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(request(5));
      await c.headersOn(5);
      c.send(request(3));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );
});

describe('http2 5.1.2: stream concurrency (bin/tetcd --max-concurrent-streams 4)', () => {
  let limited: Promise<ServerHandle> | undefined;
  /** A member started with --max-concurrent-streams 4 (once, for both cases). */
  const start = () => (limited ??= startServer('tetcd', { args: ['--max-concurrent-streams', '4'] }));
  after(async () => {
    await (await limited?.catch(() => undefined))?.destroy();
  });

  test('5.1.2/0: the server announces SETTINGS_MAX_CONCURRENT_STREAMS 4', async () => {
    const c = await SpecConn.open((await start()).port);
    try {
      assert.equal(c.serverSettings.get(SETTINGS_MAX_CONCURRENT_STREAMS), 4);
    } finally {
      c.close();
    }
  });

  test('5.1.2/1: HEADERS past the advertised concurrent stream limit is a stream error REFUSED_STREAM or PROTOCOL_ERROR', async () => {
    // A window of 0 keeps every answer waiting, so no stream ends by itself.
    const c = await SpecConn.open((await start()).port, [[SETTINGS_INITIAL_WINDOW_SIZE, 0]]);
    try {
      const max = c.serverSettings.get(SETTINGS_MAX_CONCURRENT_STREAMS);
      assert.equal(max, 4, 'SETTINGS_MAX_CONCURRENT_STREAMS');
      for (let i = 0; i <= max; i++) c.send(request(1 + 2 * i));
      await c.streamError(1 + 2 * max, REFUSED_STREAM, PROTOCOL_ERROR);
    } finally {
      c.close();
    }
  });
});

describe('http2 5.3.1: stream dependencies', { concurrency: 8 }, () => {
  spec('5.3.1/1: HEADERS depending on its own stream is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS | END_STREAM | PRIORITY_FLAG, Buffer.concat([prio(1), block()])));
    await c.streamError(1, PROTOCOL_ERROR);
  });

  spec('5.3.1/2: PRIORITY depending on its own stream is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(priorityFrame(1, 1, 15));
    await c.streamError(1, PROTOCOL_ERROR);
  });
});

describe('http2 5.4: error handling', { concurrency: 8 }, () => {
  spec('5.4.1/1: after a connection error (invalid PING) the server closes the TCP connection', async (c) => {
    c.send(frame(PING, 0, 0, Buffer.alloc(6)));
    await c.waitClosed();
  });

  spec('5.4.1/2: a connection error (invalid PING) is announced with GOAWAY first', async (c) => {
    c.send(frame(PING, 0, 0, Buffer.alloc(6)));
    const g = await c.until(() => c.find((f) => f.type === GOAWAY), 'GOAWAY');
    assert.notEqual(g.payload.readUInt32BE(4), 0, 'GOAWAY with an error code');
    await c.waitClosed();
  });
});

describe('http2 5.5: extending HTTP/2', { concurrency: 8 }, () => {
  spec('5.5/1: an unknown extension frame is ignored', async (c) => {
    c.send(frame(0xff, 0, 0, Buffer.from('extension')));
    await c.pingAck();
  });

  spec(
    '5.5/2: an unknown extension frame inside a header block is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(
        headers(1, 0),
        frame(0xff, 0, 1, Buffer.from('extension')),
        frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy', 'd']])),
      );
      await c.connectionError(PROTOCOL_ERROR);
    },
  );
});

describe('http2 6.1: DATA', { concurrency: 8 }, () => {
  spec('6.1/1: DATA on stream 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(data(0, END_STREAM, Buffer.from('test')));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '6.1/2: DATA on a stream not open or half-closed (local) is a stream error STREAM_CLOSED',
    async (c) => {
      c.send(headers(1, END_HEADERS | END_STREAM), data(1, END_STREAM, Buffer.from('test')));
      await c.streamError(1, STREAM_CLOSED);
    },
  );

  spec('6.1/3: DATA with a pad length past its payload is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), data(1, END_STREAM | PADDED, Buffer.from([6, 0x74, 0x65, 0x73, 0x74])));
    await c.connectionError(PROTOCOL_ERROR);
  });
});

describe('http2 6.2: HEADERS', { concurrency: 8 }, () => {
  spec(
    '6.2/1: HEADERS without END_HEADERS, then PRIORITY, is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(headers(1, 0), priorityFrame(1, 0, 255));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec(
    '6.2/2: HEADERS to another stream while a header block is open is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(headers(1, 0), headers(3, END_HEADERS | END_STREAM));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec('6.2/3: HEADERS on stream 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(headers(0, END_HEADERS | END_STREAM));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.2/4: HEADERS with a pad length past its payload is PROTOCOL_ERROR', async (c) => {
    const b = block();
    c.send(headers(1, END_HEADERS | END_STREAM | PADDED, Buffer.concat([Buffer.from([b.length + 1]), b])));
    await c.streamError(1, PROTOCOL_ERROR);
  });
});

describe('http2 6.3: PRIORITY', { concurrency: 8 }, () => {
  spec('6.3/1: PRIORITY on stream 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(priorityFrame(0, 1, 15));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.3/2: PRIORITY of a length other than 5 is a stream error FRAME_SIZE_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), frame(PRIORITY, 0, 1, Buffer.alloc(4)));
    await c.streamError(1, FRAME_SIZE_ERROR);
  });
});

describe('http2 6.4: RST_STREAM', { concurrency: 8 }, () => {
  spec('6.4/1: RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(rstStream(0, 0x8));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.4/2: RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(rstStream(1, 0x8));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.4/3: RST_STREAM of a length other than 4 is a connection error FRAME_SIZE_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), frame(RST_STREAM, 0, 1, Buffer.alloc(3)));
    await c.streamError(1, FRAME_SIZE_ERROR);
  });
});

describe('http2 6.5: SETTINGS', { concurrency: 8 }, () => {
  spec('6.5/1: SETTINGS with ACK and a payload is a connection error FRAME_SIZE_ERROR', async (c) => {
    c.send(frame(SETTINGS, ACK, 0, Buffer.from([0, 1, 0, 0, 0x10, 0])));
    await c.connectionError(FRAME_SIZE_ERROR);
  });

  spec('6.5/2: SETTINGS on a stream other than 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(frame(SETTINGS, 0, 1, Buffer.from([0, 3, 0, 0, 0, 100])));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '6.5/3: SETTINGS of a length not a multiple of 6 is a connection error FRAME_SIZE_ERROR',
    async (c) => {
      c.send(frame(SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0])));
      await c.connectionError(FRAME_SIZE_ERROR);
    },
  );

  spec('6.5.2/1: SETTINGS_ENABLE_PUSH other than 0 or 1 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(settingsFrame([[SETTINGS_ENABLE_PUSH, 2]]));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '6.5.2/2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 is a connection error FLOW_CONTROL_ERROR',
    async (c) => {
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 2 ** 31]]));
      await c.connectionError(FLOW_CONTROL_ERROR);
    },
  );

  spec('6.5.2/3: SETTINGS_MAX_FRAME_SIZE below 16,384 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(settingsFrame([[SETTINGS_MAX_FRAME_SIZE, 16_383]]));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.5.2/4: SETTINGS_MAX_FRAME_SIZE above 2^24-1 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(settingsFrame([[SETTINGS_MAX_FRAME_SIZE, 2 ** 24]]));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.5.2/5: a SETTINGS parameter of unknown identifier is ignored', async (c) => {
    c.send(settingsFrame([[0xff, 1]]));
    await c.pingAck();
  });

  spec(
    '6.5.3/1: values of one SETTINGS apply in order (INITIAL_WINDOW_SIZE 100, then 1: DATA of 1 octet)',
    async (c) => {
      c.send(
        settingsFrame([
          [SETTINGS_INITIAL_WINDOW_SIZE, 100],
          [SETTINGS_INITIAL_WINDOW_SIZE, 1],
        ]),
      );
      await c.until(
        () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length >= 2 ? true : undefined),
        'SETTINGS ACK',
      );
      c.send(request(1));
      const d = await c.dataOn(1);
      assert.equal(d.payload.length, 1);
    },
  );

  spec('6.5.3/2: SETTINGS without ACK is acknowledged at once', async (c) => {
    const before = c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length;
    c.send(settingsFrame([]));
    await c.until(
      () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length > before ? true : undefined),
      'SETTINGS ACK',
    );
  });
});

describe('http2 6.7: PING', { concurrency: 8 }, () => {
  spec('6.7/1: PING is answered with ACK and the same payload', async (c) => {
    await c.pingAck(Buffer.from('abcdefgh'));
  });

  spec('6.7/2: PING with ACK gets no answer', async (c) => {
    c.send(ping(Buffer.from('ack-only'), ACK));
    await c.pingAck(Buffer.from('expected'));
    assert.equal(
      c.find((f) => f.type === PING && f.payload.equals(Buffer.from('ack-only'))),
      undefined,
    );
  });

  spec('6.7/3: PING on a stream other than 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(frame(PING, 0, 1, Buffer.alloc(8)));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.7/4: PING of a length other than 8 is a connection error FRAME_SIZE_ERROR', async (c) => {
    c.send(frame(PING, 0, 0, Buffer.alloc(6)));
    await c.connectionError(FRAME_SIZE_ERROR);
  });
});

describe('http2 6.8: GOAWAY', { concurrency: 8 }, () => {
  spec('6.8/1: GOAWAY on a stream other than 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(goAwayFrame(0, 0, 1));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    "6.8/2 (tetcd): after the client's GOAWAY the server finishes the streams it has, then closes",
    async (c) => {
      c.send(request(1), goAwayFrame(1, 0));
      await c.streamClosed(1);
      await c.waitClosed();
    },
  );
});

describe('http2 6.9: WINDOW_UPDATE', { concurrency: 8 }, () => {
  spec('6.9/1: a connection WINDOW_UPDATE of 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(windowUpdate(0, 0));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec('6.9/2: a stream WINDOW_UPDATE of 0 is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), windowUpdate(1, 0));
    await c.streamError(1, PROTOCOL_ERROR);
  });

  spec('6.9/3: WINDOW_UPDATE of a length other than 4 is a connection error FRAME_SIZE_ERROR', async (c) => {
    c.send(frame(0x8, 0, 0, Buffer.alloc(3)));
    await c.connectionError(FRAME_SIZE_ERROR);
  });

  spec(
    '6.9.1/1: with an initial window of 1 the answer comes as DATA of 1 octet',
    async (c) => {
      c.send(request(1));
      const d = await c.dataOn(1);
      assert.equal(d.payload.length, 1);
    },
    [[SETTINGS_INITIAL_WINDOW_SIZE, 1]],
  );

  spec('6.9.1/2: a connection window past 2^31-1 is a connection error FLOW_CONTROL_ERROR', async (c) => {
    c.send(windowUpdate(0, 2 ** 31 - 1), windowUpdate(0, 2 ** 31 - 1));
    await c.connectionError(FLOW_CONTROL_ERROR);
  });

  spec('6.9.1/3: a stream window past 2^31-1 is a stream error FLOW_CONTROL_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), windowUpdate(1, 2 ** 31 - 1), windowUpdate(1, 2 ** 31 - 1));
    await c.streamError(1, FLOW_CONTROL_ERROR);
  });

  spec(
    '6.9.2/1: a new SETTINGS_INITIAL_WINDOW_SIZE applies to open streams (0, then 1: DATA of 1 octet)',
    async (c) => {
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 0]]));
      await c.until(
        () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length >= 2 ? true : undefined),
        'SETTINGS ACK',
      );
      c.send(request(1));
      await c.headersOn(1);
      c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 1]]));
      const d = await c.dataOn(1);
      assert.equal(d.payload.length, 1);
    },
  );

  spec('6.9.2/2: a window made negative by SETTINGS is tracked (3, 2, +2: DATA of 1 octet)', async (c) => {
    c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 3]]));
    await c.until(
      () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length >= 2 ? true : undefined),
      'SETTINGS ACK',
    );
    c.send(request(1));
    const first = await c.dataOn(1);
    assert.equal(first.payload.length, 3);
    const n = c.frames.length;
    c.send(settingsFrame([[SETTINGS_INITIAL_WINDOW_SIZE, 2]]));
    await c.until(
      () => (c.frames.filter((f) => f.type === SETTINGS && f.flags & ACK).length >= 3 ? true : undefined),
      'SETTINGS ACK',
    );
    c.send(windowUpdate(1, 2));
    const second = await c.until(() => c.find((f) => f.type === DATA && f.id === 1, n), 'the second DATA');
    assert.equal(second.payload.length, 1);
  });

  spec(
    '6.9.2/3: SETTINGS_INITIAL_WINDOW_SIZE of 2^31 is a connection error FLOW_CONTROL_ERROR',
    async (c) => {
      c.send(frame(SETTINGS, 0, 0, Buffer.from([0, 4, 0x80, 0, 0, 0])));
      await c.connectionError(FLOW_CONTROL_ERROR);
    },
  );
});

describe('http2 6.10: CONTINUATION', { concurrency: 8 }, () => {
  const cont = (flags: number, id = 1) => frame(CONTINUATION, flags, id, literalBlock([['x-dummy', 'd']]));

  spec('6.10/1: several CONTINUATION frames after HEADERS are accepted', async (c) => {
    const b = block();
    c.send(
      frame(HEADERS, 0, 1, b),
      cont(0),
      cont(0),
      frame(CONTINUATION, END_HEADERS, 1, literalBlock([['x-dummy2', 'd']])),
      data(1, END_STREAM),
    );
    await c.headersOn(1);
    c.noError();
  });

  spec(
    '6.10/2: a CONTINUATION followed by a frame other than CONTINUATION is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(headers(1, 0), cont(0), data(1, END_STREAM));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec('6.10/3: CONTINUATION on stream 0 is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(headers(1, 0), cont(END_HEADERS, 0));
    await c.connectionError(PROTOCOL_ERROR);
  });

  spec(
    '6.10/4: CONTINUATION after HEADERS with END_HEADERS is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(headers(1, END_HEADERS), cont(END_HEADERS));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec(
    '6.10/5: CONTINUATION after a CONTINUATION with END_HEADERS is a connection error PROTOCOL_ERROR',
    async (c) => {
      c.send(headers(1, 0), cont(END_HEADERS), cont(END_HEADERS));
      await c.connectionError(PROTOCOL_ERROR);
    },
  );

  spec('6.10/6: CONTINUATION after DATA is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(headers(1, END_HEADERS), data(1, 0), cont(END_HEADERS));
    await c.connectionError(PROTOCOL_ERROR);
  });
});

describe('http2 7: error codes', { concurrency: 8 }, () => {
  spec('7/1: GOAWAY with an unknown error code triggers nothing special', async (c) => {
    c.send(goAwayFrame(0, 0xff));
    await c.pingAckOrClose();
  });

  spec('7/2: RST_STREAM with an unknown error code triggers nothing special', async (c) => {
    c.send(headers(1, END_HEADERS), rstStream(1, 0xff));
    await c.pingAckOrClose();
  });
});

describe('http2 8.1: HTTP request/response exchange', { concurrency: 8 }, () => {
  spec('8.1/1: a second HEADERS without END_STREAM is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(
      headers(1, END_HEADERS),
      data(1, 0, PART),
      headers(1, END_HEADERS, literalBlock([['x-test', 'ok']])),
    );
    await c.streamError(1, PROTOCOL_ERROR);
  });

  spec('8.1.2/1: an uppercase header field name is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(request(1, block([['X-TEST', 'ok']])));
    await c.streamError(1, PROTOCOL_ERROR);
  });

  const malformed: [string, Header[] | Buffer][] = [
    ['8.1.2.1/1: an unknown pseudo-header field', fields([[':test', 'ok']])],
    ['8.1.2.1/2: a response pseudo-header field (:status) in a request', fields([[':status', '200']])],
    ['8.1.2.1/4: a pseudo-header field after a regular header field', [['x-test', 'ok'], ...fields()]],
    ['8.1.2.2/1: a connection-specific header field (connection)', fields([['connection', 'keep-alive']])],
    [
      '8.1.2.2/2: TE with a value other than "trailers"',
      fields().map(([n, v]) => [n, n === 'te' ? 'trailers, deflate' : v] as Header),
    ],
    ['8.1.2.3/1: an empty :path', fields().map(([n, v]) => [n, n === ':path' ? '' : v] as Header)],
    ['8.1.2.3/2: no :method', fields().filter(([n]) => n !== ':method')],
    ['8.1.2.3/3: no :scheme', fields().filter(([n]) => n !== ':scheme')],
    ['8.1.2.3/4: no :path', fields().filter(([n]) => n !== ':path')],
    ['8.1.2.3/5: a duplicated :method', [[':method', 'POST'], ...fields()]],
    ['8.1.2.3/6: a duplicated :scheme', [[':scheme', 'http'], ...fields()]],
    ['8.1.2.3/7: a duplicated :path', [[':path', KV_RANGE], ...fields()]],
    // RFC 9113 rules h2spec does not check.
    [
      'RFC 9113 8.2.2: a connection-specific header field (transfer-encoding)',
      fields([['transfer-encoding', 'chunked']]),
    ],
    ['RFC 9113 8.2.2: a connection-specific header field (upgrade)', fields([['upgrade', 'h2c']])],
    [
      'RFC 9113 8.2.2: a connection-specific header field (keep-alive)',
      fields([['keep-alive', 'timeout=5']]),
    ],
    [
      'RFC 9113 8.2.2: a connection-specific header field (proxy-connection)',
      fields([['proxy-connection', 'keep-alive']]),
    ],
    ['RFC 9113 8.2.1: a field value with a line feed', fields([['x-test', 'a\nb']])],
    ['RFC 9113 8.2.1: a field value with a NUL', fields([['x-test', 'a\0b']])],
    ['RFC 9113 8.2.1: a field value with a carriage return', fields([['x-test', 'a\rb']])],
    ['RFC 9113 8.2.1: a field name with a space', fields([['x test', 'ok']])],
    ['RFC 9113 8.2.1: an empty field name', fields([['', 'ok']])],
  ];
  for (const [name, f] of malformed) {
    spec(`${name} is a stream error PROTOCOL_ERROR`, async (c) => {
      c.send(request(1, Buffer.isBuffer(f) ? f : literalBlock(f)));
      await c.streamError(1, PROTOCOL_ERROR);
    });
  }

  spec('8.1.2.1/3: a pseudo-header field in trailers is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(
      headers(1, END_HEADERS),
      data(1, 0, PART),
      headers(1, END_HEADERS | END_STREAM, literalBlock([[':method', 'POST']])),
    );
    await c.streamError(1, PROTOCOL_ERROR);
  });

  spec('8.1.2.6/1: content-length other than the DATA length is a stream error PROTOCOL_ERROR', async (c) => {
    c.send(
      headers(1, END_HEADERS, block([['content-length', '1']])),
      data(1, END_STREAM, Buffer.from('test')),
    );
    await c.streamError(1, PROTOCOL_ERROR);
  });

  spec(
    '8.1.2.6/2: content-length other than the sum of several DATA lengths is a stream error PROTOCOL_ERROR',
    async (c) => {
      c.send(
        headers(1, END_HEADERS, block([['content-length', '1']])),
        data(1, 0, Buffer.from('test')),
        data(1, END_STREAM, Buffer.from('test')),
      );
      await c.streamError(1, PROTOCOL_ERROR);
    },
  );

  spec('8.2/1: PUSH_PROMISE from a client is a connection error PROTOCOL_ERROR', async (c) => {
    c.send(frame(PUSH_PROMISE, END_HEADERS, 1, Buffer.concat([u32(2), block()])));
    await c.connectionError(PROTOCOL_ERROR);
  });
});

describe('hpack: decoding errors are connection errors COMPRESSION_ERROR', { concurrency: 8 }, () => {
  const cases: [string, Buffer][] = [
    [
      '2.3.3/1: an indexed field past the tables (index 70, empty dynamic table)',
      Buffer.concat([block(), writeInt(70, 7, 0x80)]),
    ],
    [
      '2.3.3/2: a literal whose name index is past the tables',
      Buffer.concat([block(), writeInt(70, 6, 0x40), str('x')]),
    ],
    [
      '4.2/1: a dynamic table size update at the end of a header block',
      Buffer.concat([block(), writeInt(0, 5, 0x20)]),
    ],
    [
      '5.2/1: a Huffman string padded with more than 7 bits',
      Buffer.concat([block(), Buffer.from([0x00]), str('x-test'), str(Buffer.from([0x1f, 0xff]), true)]),
    ],
    [
      '5.2/2: a Huffman string padded with zeros',
      Buffer.concat([block(), Buffer.from([0x00]), str('x-test'), str(Buffer.from([0x18]), true)]),
    ],
    [
      '5.2/3: a Huffman string containing EOS',
      Buffer.concat([
        block(),
        Buffer.from([0x00]),
        str('x-test'),
        str(Buffer.from([0xff, 0xff, 0xff, 0xff]), true),
      ]),
    ],
    ['6.1/1: an indexed field of index 0', Buffer.concat([block(), Buffer.from([0x80])])],
    [
      '6.3/1: a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (4,097)',
      Buffer.concat([writeInt(4097, 5, 0x20), block()]),
    ],
  ];
  for (const [name, b] of cases) {
    spec(name, async (c) => {
      c.send(request(1, b));
      await c.connectionError(COMPRESSION_ERROR);
    });
  }
});

test('the member serves a fresh connection after every case', async () => {
  await stillServes();
});
