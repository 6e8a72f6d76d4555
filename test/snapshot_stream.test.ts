// Maintenance.Snapshot's stream, beside etcd 3.4's: 32 KiB chunks with the bytes still to come and no
// header, then the sha256 of the file with remaining_bytes 0; a client that stops reading holds the
// export without holding writes; a client that cancels leaves the member serving and snapshotting.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../src/proto/index.ts';
import { Client } from './helpers/client.ts';
import { haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

const servers: ServerHandle[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
});

const Req = messageType('etcdserverpb.SnapshotRequest');
const Resp = messageType('etcdserverpb.SnapshotResponse');
interface Msg {
  header: unknown;
  remainingBytes: number;
  blob: Buffer;
}

function snapshotCall(endpoint: string): { call: grpc.ClientReadableStream<Msg>; close(): void } {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  });
  const call = client.makeServerStreamRequest<object, Msg>(
    '/etcdserverpb.Maintenance/Snapshot',
    (v) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
    (b: Buffer) => {
      const m = Resp.toObject(Resp.decode(b), { longs: Number }) as Msg;
      return { header: m.header, remainingBytes: m.remainingBytes ?? 0, blob: Buffer.from(m.blob ?? []) };
    },
    {},
    { deadline: Date.now() + 60_000 },
  );
  return { call, close: () => client.close() };
}

function readAll(endpoint: string): Promise<Msg[]> {
  const { call, close } = snapshotCall(endpoint);
  const out: Msg[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', (e) => {
      close();
      reject(e);
    });
    call.on('end', () => {
      close();
      resolve(out);
    });
  });
}

async function fill(endpoint: string): Promise<void> {
  const c = new Client(endpoint);
  try {
    const v = Buffer.alloc(25_000, 0x61);
    for (let i = 0; i < 160; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => c.put(`big/${i + j}`, v)));
    }
  } finally {
    c.close();
  }
}

/** The stream's shape, which must be etcd's: chunk sizes, remaining bytes, no header, the sha256. */
function shape(msgs: Msg[]): void {
  assert.ok(msgs.length >= 3);
  const file = Buffer.concat(msgs.slice(0, -1).map((m) => m.blob));
  let left = file.length;
  for (const m of msgs.slice(0, -1)) {
    left -= m.blob.length;
    assert.equal(m.remainingBytes, left);
    assert.equal(m.header ?? null, null, 'no header');
  }
  for (const m of msgs.slice(0, -2)) assert.equal(m.blob.length, 32 * 1024);
  const last = msgs[msgs.length - 1]!;
  assert.equal(last.remainingBytes, 0);
  assert.ok(
    last.blob.equals(createHash('sha256').update(file).digest()),
    'the trailer is the sha256 of the file',
  );
  assert.equal(file.readUInt32LE(16), 0xed0cdaed, 'a bbolt file');
  assert.equal(file.length % 4096, 0);
}

describe('the Snapshot stream', { skip: !haveEtcd() }, () => {
  test('is etcd 3.4’s: 32 KiB chunks, remaining bytes, no header, then the sha256', async () => {
    for (const kind of ['etcd', 'tetcd'] as const) {
      const s = await startServer(kind);
      servers.push(s);
      await fill(s.endpoint);
      shape(await readAll(s.endpoint));
    }
  });

  test('a reader that stops holds the export, not the writes; a cancelled one leaves the member serving', async () => {
    const s = await startServer('tetcd');
    servers.push(s);
    await fill(s.endpoint);
    const { call, close } = snapshotCall(s.endpoint);
    const first = await new Promise<Msg>((resolve, reject) => {
      call.once('data', (m: Msg) => {
        call.pause();
        resolve(m);
      });
      call.once('error', reject);
    });
    assert.ok(first.remainingBytes > 3 * 1024 * 1024, `remaining ${first.remainingBytes}`);
    // Writes go on while the export stands still (flow control holds it, not the member).
    const c = new Client(s.endpoint);
    const started = Date.now();
    for (let i = 0; i < 50; i++) await c.put(`during/${i}`, 'x');
    assert.ok(Date.now() - started < 5000, `50 puts took ${Date.now() - started} ms`);
    call.cancel();
    close();
    await c.put('after', 'cancel');
    const msgs = await readAll(s.endpoint);
    shape(msgs);
    c.close();
  });
});
