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
    await wal.close();
    const { wal: w1 } = await Wal.open(dir, { segmentBytes: 4096, maxFiles: 1 });
    const before = w1.segmentCount();
    assert.ok(w1.releaseTo(150) > 0);
    assert.ok(w1.segmentCount() < before);
    await w1.close();
    const again = await Wal.open(dir, { segmentBytes: 4096 });
    assert.ok(again.contents.entries[0]!.index <= 151);
    assert.equal(again.contents.entries[again.contents.entries.length - 1]!.index, 300);
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The segment files of `dir`, oldest first, with the first index each name carries. */
function segmentsOf(dir: string): { name: string; firstIndex: number }[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((name) => ({ name, firstIndex: parseInt(name.slice(17, 33), 16) }));
}

/** How many segments hold an entry above `index` (the ones a restart needs). */
function neededSegments(dir: string, index: number): number {
  const segs = segmentsOf(dir);
  let first = 0;
  for (let i = 1; i < segs.length; i++) if (segs[i]!.firstIndex <= index + 1) first = i;
  return segs.length - first;
}

test('released segments stay until there are more than maxFiles, the oldest go first (--max-wals)', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 600, 4096);
    const all = segmentsOf(dir);
    assert.ok(all.length >= 6, `segments: ${all.length}`);
    const needed = neededSegments(dir, 300);
    assert.ok(needed >= 2 && needed < all.length - 2, `needed ${needed} of ${all.length}`);
    const keep = needed + 1;
    const { wal } = await Wal.open(dir, { segmentBytes: 4096, maxFiles: keep });
    assert.equal(wal.releaseTo(300), all.length - keep);
    assert.deepEqual(
      segmentsOf(dir).map((s) => s.name),
      all.slice(all.length - keep).map((s) => s.name),
      'the newest files are kept',
    );
    await wal.close();
    const again = await Wal.open(dir, { segmentBytes: 4096 });
    const idx = again.contents.entries.map((e) => e.index);
    assert.ok(idx[0]! <= 301, `first entry ${idx[0]}`);
    assert.equal(idx[idx.length - 1], 600);
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a segment holding entries after the released index is never removed, whatever maxFiles says', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 600, 4096);
    const all = segmentsOf(dir).length;
    const { wal } = await Wal.open(dir, { segmentBytes: 4096, maxFiles: 1 });
    assert.equal(wal.releaseTo(0), 0, 'nothing released: nothing removed');
    assert.equal(segmentsOf(dir).length, all);
    const needed = neededSegments(dir, 300);
    wal.releaseTo(300);
    assert.equal(segmentsOf(dir).length, needed, 'only the files with entries above 300 remain');
    await wal.close();
    const again = await Wal.open(dir, { segmentBytes: 4096 });
    const idx = again.contents.entries.map((e) => e.index);
    assert.ok(idx[0]! <= 301);
    assert.equal(idx.length, 600 - idx[0]! + 1, 'no gap');
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maxFiles 0 keeps every segment (etcd: --max-wals 0 is unlimited)', async () => {
  const dir = tmp();
  try {
    await writeLog(dir, 600, 4096);
    const all = segmentsOf(dir).length;
    const { wal } = await Wal.open(dir, { segmentBytes: 4096, maxFiles: 0 });
    assert.equal(wal.releaseTo(600), 0);
    for (let i = 601; i <= 900; i++) {
      await wal.save({ term: 1, vote: 1n, commit: i }, [{ index: i, term: 1, data: enc(`value-${i}`) }]);
    }
    assert.ok(segmentsOf(dir).length > all, 'new segments were cut and nothing went');
    await wal.close();
    const again = await Wal.open(dir, { segmentBytes: 4096 });
    assert.equal(again.contents.entries[0]!.index, 1, 'the whole log is still there');
    await again.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cutting a new segment removes a released one beyond maxFiles', async () => {
  const dir = tmp();
  try {
    const { wal } = await Wal.open(dir, { segmentBytes: 4096, maxFiles: 3 });
    let i = 0;
    const put = async () => {
      i++;
      await wal.save({ term: 1, vote: 1n, commit: i }, [{ index: i, term: 1, data: enc(`value-${i}`) }]);
    };
    while (wal.segmentCount() < 3) await put();
    assert.equal(wal.releaseTo(i), 0, 'three files: none beyond the count');
    const names = segmentsOf(dir).map((s) => s.name);
    // Write until a fourth segment is cut.
    while (segmentsOf(dir).at(-1)!.name === names[2] && i < 10_000) await put();
    const now = segmentsOf(dir).map((s) => s.name);
    assert.equal(now.length, 3, 'still three files after the cut');
    assert.ok(!now.includes(names[0]!), 'the oldest released file went');
    await wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
