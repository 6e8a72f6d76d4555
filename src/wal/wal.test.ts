import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  truncateSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal, WalCorruptError } from './wal.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tetcd-wal-'));
}

async function writeLog(dir: string, n: number, segmentBytes = 64 * 1024): Promise<void> {
  const { wal } = await Wal.open(dir, { segmentBytes });
  for (let i = 1; i <= n; i++) {
    await wal.save({ term: 1, vote: 1n, commit: i }, [{ index: i, term: 1, data: enc(`value-${i}`) }]);
  }
  await wal.close();
}

test('entries and hard state survive close and reopen', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 20);
    const { wal, contents } = await Wal.open(dir);
    assert.equal(contents.entries.length, 20);
    assert.equal(dec(contents.entries[19]!.data), 'value-20');
    assert.deepEqual(contents.hardState, { term: 1, vote: 1n, commit: 20 });
    assert.equal(contents.repairedBytes, 0);
    await wal.save(undefined, [{ index: 21, term: 2, data: enc('after-reopen') }]);
    await wal.close();
    const again = await Wal.open(dir);
    assert.equal(again.contents.entries.length, 21);
    assert.equal(again.contents.entries[20]!.term, 2);
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rewritten index replaces the old tail from that index on', async () => {
  const dir = tmp();
  try {
    const { wal } = await Wal.open(dir);
    await wal.save(
      undefined,
      [1, 2, 3].map((i) => ({ index: i, term: 1, data: enc(`a${i}`) })),
    );
    await wal.save(undefined, [{ index: 2, term: 2, data: enc('b2') }]);
    await wal.close();
    const { wal: w2, contents } = await Wal.open(dir);
    assert.deepEqual(
      contents.entries.map((e) => `${e.index}/${e.term}/${dec(e.data)}`),
      ['1/1/a1', '2/2/b2'],
    );
    await w2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncation at every byte offset of the last records recovers the last complete record', async () => {
  const base = tmp();
  try {
    await writeLog(base, 5, 4096);
    const seg = readdirSync(base).find((f) => f.endsWith('.wal'))!;
    const full = readFileSync(join(base, seg));
    let end = full.length;
    while (end > 0 && full[end - 1] === 0) end--;
    // The last two records (entry 5 and its hard state) span these bytes.
    const recordLen = 8 + 1 + 16 + 'value-5'.length + (8 + 1 + 24);
    for (let cut = end - recordLen - 8; cut <= end; cut++) {
      const dir = tmp();
      try {
        // Zero everything from `cut` on, as a torn write into a preallocated segment leaves it.
        const b = Buffer.from(full);
        b.fill(0, cut);
        writeFileSync(join(dir, seg), b);
        const { wal, contents } = await Wal.open(dir, { segmentBytes: 4096 });
        const last = contents.entries[contents.entries.length - 1]!;
        assert.ok(last.index === 4 || last.index === 5, `cut ${cut}: last index ${last.index}`);
        if (cut === end) assert.equal(last.index, 5);
        for (const e of contents.entries) assert.equal(dec(e.data), `value-${e.index}`);
        // After repair the log accepts appends and reopens cleanly.
        await wal.save(undefined, [{ index: last.index + 1, term: 1, data: enc('next') }]);
        await wal.close();
        const again = await Wal.open(dir, { segmentBytes: 4096 });
        assert.equal(again.contents.repairedBytes, 0);
        assert.equal(dec(again.contents.entries[again.contents.entries.length - 1]!.data), 'next');
        await again.wal.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a file cut short (not preallocated) mid-record is repaired too', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 3, 4096);
    const seg = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.wal'))!,
    );
    const full = readFileSync(seg);
    let end = full.length;
    while (end > 0 && full[end - 1] === 0) end--;
    truncateSync(seg, end - 5);
    const { wal, contents } = await Wal.open(dir, { segmentBytes: 4096 });
    assert.equal(contents.entries[contents.entries.length - 1]!.index, 3);
    assert.ok(statSync(seg).size > 0);
    await wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a flipped bit mid-log refuses to start with a clear error', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 10, 4096);
    const seg = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith('.wal'))!,
    );
    const b = readFileSync(seg);
    const at = b.indexOf(Buffer.from('value-3'));
    b[at]! ^= 0x01;
    writeFileSync(seg, b);
    await assert.rejects(Wal.open(dir, { segmentBytes: 4096 }), (e: unknown) => {
      assert.ok(e instanceof WalCorruptError);
      assert.match(e.message, /crc mismatch; refusing to start/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('segments are cut when full, read back in order, and released below an index', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 300, 4096);
    const { wal, contents } = await Wal.open(dir, { segmentBytes: 4096 });
    assert.ok(wal.segmentCount() > 3, `segments: ${wal.segmentCount()}`);
    assert.deepEqual(
      contents.entries.map((e) => e.index),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    const before = wal.segmentCount();
    assert.ok(wal.releaseTo(150) > 0);
    assert.ok(wal.segmentCount() < before);
    await wal.close();
    const again = await Wal.open(dir, { segmentBytes: 4096 });
    assert.ok(again.contents.entries[0]!.index <= 151);
    assert.equal(again.contents.entries[again.contents.entries.length - 1]!.index, 300);
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
